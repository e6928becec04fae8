// Room messages and direct messages: validate, store durably (idempotent by client message id), then
// deliver the pre-encoded push in seq order here and publish it to the other nodes; history pages and
// recovery read back from the store.
import { Context, Effect, Layer } from "effect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ChatMessageSchema, HistoryPageSchema, HistoryRequest, RecoverRequest, RecoverResultSchema, SendAckSchema, SendMessageRequest } from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { TypingRequest } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import type { DirectAckSchema, DirectHistoryPageSchema, DirectHistoryRequest, DirectMessageSchema, SendDirectRequest } from "../../../proto/gen/es/chat/v1/direct_pb.js";
import { Bus } from "../bus/bus.ts";
import { ServerConfig } from "../config.ts";
import { InvalidArgument, NotFound, NotMember, type StorageUnavailable, type StoreError } from "../errors.ts";
import { encodePush, Hub, type Peer } from "../hub/hub.ts";
import { normalizeCode } from "../rooms/codes.ts";
import { Store, type StoredDirect, type StoredMessage, usernameKey } from "../store/store.ts";
import { payloadOf } from "../transport/wire.ts";
import { clientMessageId, messageText, pageQuery } from "./validate.ts";


export const messageInit = (m: StoredMessage): MessageInitShape<typeof ChatMessageSchema> => ({
  roomCode: m.roomCode,
  seq: m.seq,
  sender: m.sender,
  sentAtMs: BigInt(m.sentAtMs),
  text: m.text,
  clientMessageId: m.clientMessageId,
});

export const directInit = (m: StoredDirect): MessageInitShape<typeof DirectMessageSchema> => ({
  sender: m.sender,
  recipient: m.recipient,
  seq: m.seq,
  sentAtMs: BigInt(m.sentAtMs),
  text: m.text,
  clientMessageId: m.clientMessageId,
});

/** A stored message as its push, encoded once. */
export const encodeMessage = (m: StoredMessage) => encodePush({ case: "message", value: messageInit(m) });

/** The connection's view needed to authorize a request: who, and which rooms it joined. */
export interface Sender {
  readonly peer: Peer;
  readonly rooms: ReadonlySet<string>;
}

const memberRoom = (s: Sender, raw: string): Effect.Effect<string, NotMember> => {
  const code = normalizeCode(raw) ?? raw;
  return s.rooms.has(code) ? Effect.succeed(code) : Effect.fail(new NotMember({ roomCode: code }));
};

export class Chat extends Context.Service<
  Chat,
  {
    send(s: Sender, req: SendMessageRequest): Effect.Effect<MessageInitShape<typeof SendAckSchema>, InvalidArgument | NotMember | StoreError | StorageUnavailable>;
    history(s: Sender, req: HistoryRequest): Effect.Effect<MessageInitShape<typeof HistoryPageSchema>, InvalidArgument | NotMember | StoreError | StorageUnavailable>;
    recover(s: Sender, req: RecoverRequest): Effect.Effect<MessageInitShape<typeof RecoverResultSchema>, NotMember | StoreError | StorageUnavailable>;
    sendDirect(s: Sender, req: SendDirectRequest): Effect.Effect<MessageInitShape<typeof DirectAckSchema>, InvalidArgument | NotFound | StoreError | StorageUnavailable>;
    typing(s: Sender, req: TypingRequest): Effect.Effect<void, NotMember>;
    directHistory(s: Sender, req: DirectHistoryRequest): Effect.Effect<MessageInitShape<typeof DirectHistoryPageSchema>, InvalidArgument | NotFound | StoreError | StorageUnavailable>;
  }
>()("protochat/chat/Chat") {
  static readonly layer = Layer.effect(
    Chat,
    Effect.gen(function* () {
      const store = yield* Store;
      const hub = yield* Hub;
      const bus = yield* Bus;
      const config = yield* ServerConfig;

      // The hot path: untraced (a traced Effect.fn captures a stack trace and opens a span on every call).
      const send = Effect.fnUntraced(function* (s: Sender, req: SendMessageRequest) {
        const roomCode = yield* memberRoom(s, req.roomCode);
        const text = yield* messageText(req.text);
        const cmid = yield* clientMessageId(req.clientMessageId);
        // Storing and delivering are one uninterruptible step: a stored seq is always handed to the hub,
        // otherwise later seqs would wait for it forever. Other nodes get the same bytes' payload (a lost
        // one is filled from the store there); in embedded mode there is nobody to tell.
        const { message, duplicate } = yield* Effect.uninterruptible(
          store.appendMessage({ roomCode, sender: s.peer.username, clientMessageId: cmid, text, sentAtMs: Date.now() }).pipe(
            Effect.tap(({ message, duplicate }) =>
              Effect.sync(() => {
                if (duplicate) return;
                const bytes = encodeMessage(message);
                hub.deliver(roomCode, message.seq, bytes);
                if (!bus.standalone) bus.publish({ _tag: "RoomMessage", room: roomCode, seq: message.seq, payload: payloadOf(bytes) });
              }),
            ),
          ),
        );
        if (!duplicate) hub.setTyping(roomCode, s.peer.username, false);
        return { roomCode, seq: message.seq, sentAtMs: BigInt(message.sentAtMs), clientMessageId: message.clientMessageId, duplicate };
      });

      const history = Effect.fn("Chat.history")(function* (s: Sender, req: HistoryRequest) {
        const roomCode = yield* memberRoom(s, req.roomCode);
        const query = yield* pageQuery(req.anchorSeq, req.direction, req.limit);
        const page = yield* store.readMessages(roomCode, query);
        return { roomCode, messages: page.messages.map(messageInit), hasMore: page.hasMore };
      });

      const recover = Effect.fn("Chat.recover")(function* (s: Sender, req: RecoverRequest) {
        const roomCode = yield* memberRoom(s, req.roomCode);
        // One more than the limit tells "too many" apart from "exactly the limit".
        const page = yield* store.readMessages(roomCode, { anchorSeq: req.afterSeq, direction: "forward", limit: config.recoverLimit + 1 });
        const lastSeq = page.messages.at(-1)?.seq ?? req.afterSeq;
        const tooMany = page.messages.length > config.recoverLimit;
        if (tooMany) {
          const newest = yield* store.readMessages(roomCode, { anchorSeq: 0n, direction: "backward", limit: 1 });
          return { roomCode, recovered: false, messages: [], lastSeq: newest.messages.at(-1)?.seq ?? 0n };
        }
        if (page.messages.length === 0) {
          // Nothing after after_seq: fine if the client is up to date, "not recovered" if it claims a seq the room never had.
          const newest = yield* store.readMessages(roomCode, { anchorSeq: 0n, direction: "backward", limit: 1 });
          const roomLast = newest.messages.at(-1)?.seq ?? 0n;
          return { roomCode, recovered: req.afterSeq <= roomLast, messages: [], lastSeq: roomLast };
        }
        return { roomCode, recovered: true, messages: page.messages.map(messageInit), lastSeq };
      });

      const recipientOf = (s: Sender, name: string) =>
        Effect.gen(function* () {
          const user = yield* store.findUser(usernameKey(name.trim()));
          if (!user) return yield* new NotFound({ what: "user" });
          if (user.username === s.peer.username) return yield* new InvalidArgument({ message: "cannot send a direct message to yourself" });
          return user.username;
        });

      const sendDirect = Effect.fn("Chat.sendDirect")(function* (s: Sender, req: SendDirectRequest) {
        const text = yield* messageText(req.text);
        const cmid = yield* clientMessageId(req.clientMessageId);
        const recipient = yield* recipientOf(s, req.recipient);
        const { message, duplicate } = yield* store.appendDirect({ sender: s.peer.username, recipient, clientMessageId: cmid, text, sentAtMs: Date.now() });
        if (!duplicate) {
          const bytes = encodePush({ case: "directMessage", value: directInit(message) });
          hub.sendToUser(recipient, bytes);
          hub.sendToUser(s.peer.username, bytes, s.peer);
          if (!bus.standalone) bus.publish({ _tag: "UserPush", usernames: [recipient, s.peer.username], payload: payloadOf(bytes) });
        }
        return { recipient, seq: message.seq, sentAtMs: BigInt(message.sentAtMs), clientMessageId: message.clientMessageId, duplicate };
      });

      const directHistory = Effect.fn("Chat.directHistory")(function* (s: Sender, req: DirectHistoryRequest) {
        const query = yield* pageQuery(req.anchorSeq, req.direction, req.limit);
        const peer = yield* store.findUser(usernameKey(req.peer.trim()));
        if (!peer) return yield* new NotFound({ what: "user" });
        const page = yield* store.readDirect(s.peer.username, peer.username, query);
        return { peer: peer.username, messages: page.messages.map(directInit), hasMore: page.hasMore };
      });

      const typing = (s: Sender, req: TypingRequest) =>
        memberRoom(s, req.roomCode).pipe(Effect.map((roomCode) => hub.setTyping(roomCode, s.peer.username, req.typing)));

      return Chat.of({ send, history, recover, sendDirect, typing, directHistory });
    }),
  );
}
