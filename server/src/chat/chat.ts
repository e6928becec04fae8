// Room messages and direct messages: validate, store durably (idempotent by client message id), then
// deliver the pre-encoded push in seq order here and publish it to the other nodes; history pages and
// recovery read back from the store.
import { Context, Effect, Layer } from "effect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type {
  ChatMessageSchema,
  HistoryPageSchema,
  HistoryRequest,
  RecoverRequest,
  RecoverResultSchema,
  SendAckSchema,
  SendMessageRequest,
} from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { TypingRequest } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import type {
  DirectAckSchema,
  DirectHistoryPageSchema,
  DirectHistoryRequest,
  DirectMessageSchema,
  SendDirectRequest,
} from "../../../proto/gen/es/chat/v1/direct_pb.js";
import {
  ActionKind,
  type DeleteMessageRequest,
  type EditMessageRequest,
  type ReactRequest,
} from "../../../proto/gen/es/chat/v1/action_pb.js";
import { Bus } from "../bus/bus.ts";
import { ServerConfig } from "../config.ts";
import { directConversation } from "../files/blob-store.ts";
import { type AttachmentInit, Files, messageKeyString } from "../files/files.ts";
import {
  InvalidArgument,
  type LimitExceeded,
  NotFound,
  NotMember,
  type PermissionDenied,
  type StorageUnavailable,
  type StoreError,
} from "../errors.ts";
import { encodePush, Hub, type Peer } from "../hub/hub.ts";
import { normalizeCode } from "../rooms/codes.ts";
import {
  type ActionKind as StoredActionKind,
  type EventState,
  type NewAction,
  type Quote,
  quoteText,
  Store,
  type StoredDirect,
  type StoredMessage,
  usernameKey,
} from "../store/store.ts";
import { payloadOf } from "../transport/wire.ts";
import { bodyText, clientMessageId, emoji, messageText, pageQuery } from "./validate.ts";

const WIRE_ACTION: Record<StoredActionKind, ActionKind> = {
  edit: ActionKind.EDIT,
  delete: ActionKind.DELETE,
  "reaction-add": ActionKind.REACTION_ADD,
  "reaction-remove": ActionKind.REACTION_REMOVE,
};

/** The fields 7-13 shared by ChatMessage and DirectMessage: reply, action and current state. */
const stateInit = (m: EventState) => ({
  replyToSeq: m.replyToSeq,
  ...(m.replyQuote === undefined ? {} : { replyQuote: m.replyQuote }),
  ...(m.action === undefined ? {} : { action: { kind: WIRE_ACTION[m.action.kind], targetSeq: m.action.targetSeq, emoji: m.action.emoji } }),
  editedAtMs: BigInt(m.editedAtMs),
  deleted: m.deleted,
  reactions: m.reactions.map((r) => ({ emoji: r.emoji, users: [...r.users] })),
  stateSeq: m.stateSeq,
});

/** `attachments`: the plain message's files (files/files.ts); a deleted message shows none. */
export const messageInit = (
  m: StoredMessage,
  attachments: ReadonlyArray<AttachmentInit> = [],
): MessageInitShape<typeof ChatMessageSchema> => ({
  roomCode: m.roomCode,
  seq: m.seq,
  sender: m.sender,
  sentAtMs: BigInt(m.sentAtMs),
  text: m.text,
  clientMessageId: m.clientMessageId,
  ...stateInit(m),
  attachments: m.deleted ? [] : [...attachments],
});

export const directInit = (
  m: StoredDirect,
  attachments: ReadonlyArray<AttachmentInit> = [],
): MessageInitShape<typeof DirectMessageSchema> => ({
  sender: m.sender,
  recipient: m.recipient,
  seq: m.seq,
  sentAtMs: BigInt(m.sentAtMs),
  text: m.text,
  clientMessageId: m.clientMessageId,
  ...stateInit(m),
  attachments: m.deleted ? [] : [...attachments],
});

/** An action request as the store takes it: kind, target, key, and the edit's text or the reaction's emoji. */
export type ActionRequest =
  | { readonly _tag: "edit"; readonly req: EditMessageRequest }
  | { readonly _tag: "delete"; readonly req: DeleteMessageRequest }
  | { readonly _tag: "react"; readonly req: ReactRequest };

/** The reply to an action: the ack of its event, in the form of the conversation it happened in. */
export type ActionAck =
  | { readonly case: "sendAck"; readonly value: MessageInitShape<typeof SendAckSchema> }
  | { readonly case: "directAck"; readonly value: MessageInitShape<typeof DirectAckSchema> };

type ActionError = InvalidArgument | NotMember | NotFound | PermissionDenied | LimitExceeded | StoreError | StorageUnavailable;

/** A stored message as its push, encoded once. */
export const encodeMessage = (m: StoredMessage, attachments: ReadonlyArray<AttachmentInit> = []) =>
  encodePush({ case: "message", value: messageInit(m, attachments) });

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
    send(
      s: Sender,
      req: SendMessageRequest,
    ): Effect.Effect<MessageInitShape<typeof SendAckSchema>, InvalidArgument | NotMember | NotFound | StoreError | StorageUnavailable>;
    history(
      s: Sender,
      req: HistoryRequest,
    ): Effect.Effect<MessageInitShape<typeof HistoryPageSchema>, InvalidArgument | NotMember | StoreError | StorageUnavailable>;
    recover(
      s: Sender,
      req: RecoverRequest,
    ): Effect.Effect<MessageInitShape<typeof RecoverResultSchema>, NotMember | StoreError | StorageUnavailable>;
    sendDirect(
      s: Sender,
      req: SendDirectRequest,
    ): Effect.Effect<MessageInitShape<typeof DirectAckSchema>, InvalidArgument | NotFound | StoreError | StorageUnavailable>;
    /** Edit, delete or react: stores the action event, delivers it like a message, replies with its ack. */
    act(s: Sender, action: ActionRequest): Effect.Effect<ActionAck, ActionError>;
    typing(s: Sender, req: TypingRequest): Effect.Effect<void, NotMember>;
    directHistory(
      s: Sender,
      req: DirectHistoryRequest,
    ): Effect.Effect<MessageInitShape<typeof DirectHistoryPageSchema>, InvalidArgument | NotFound | StoreError | StorageUnavailable>;
  }
>()("protochat/chat/Chat") {
  static readonly layer = Layer.effect(
    Chat,
    Effect.gen(function* () {
      const store = yield* Store;
      const hub = yield* Hub;
      const bus = yield* Bus;
      const config = yield* ServerConfig;
      const files = yield* Files;

      /** The attachments of a page's plain messages, by messageKeyString (one read per page, none without plain messages). */
      const attachmentsOf = (conversation: Parameters<typeof files.of>[0], messages: ReadonlyArray<StoredMessage | StoredDirect>) => {
        const plain = messages.filter((m) => m.action === undefined && !m.deleted);
        return files.of(conversation, plain);
      };
      const keyOf = (m: StoredMessage | StoredDirect) =>
        messageKeyString({ ownerKey: usernameKey(m.sender), clientMessageId: m.clientMessageId });

      // The hot path: untraced (a traced Effect.fn captures a stack trace and opens a span on every call).
      const send = Effect.fnUntraced(function* (s: Sender, req: SendMessageRequest) {
        const roomCode = yield* memberRoom(s, req.roomCode);
        const text = yield* bodyText(req.text, req.attachmentIds.length);
        const cmid = yield* clientMessageId(req.clientMessageId);
        const quote = req.replyToSeq === 0n ? undefined : yield* roomQuote(roomCode, req.replyToSeq);
        // Claimed before the message is stored: its files are durable already (an upload is answered only once
        // stored), and a claim that fails stores nothing.
        const attachments = yield* files.attach({ _tag: "room", code: roomCode }, s.peer.username, cmid, req.attachmentIds);
        // Storing and delivering are one uninterruptible step: a stored seq is always handed to the hub,
        // otherwise later seqs would wait for it forever. A duplicate is handed over too: its first attempt may
        // have been stored without an answer (a lost COMMIT reply), and a hub drops a seq it already passed.
        // Other nodes get the same bytes' payload (a lost one is filled from the store there); in embedded mode
        // there is nobody to tell.
        const { message, duplicate } = yield* Effect.uninterruptible(
          store
            .appendMessage({
              roomCode,
              sender: s.peer.username,
              clientMessageId: cmid,
              text,
              sentAtMs: Date.now(),
              replyToSeq: req.replyToSeq,
            })
            .pipe(
              Effect.tap(({ message }) =>
                Effect.sync(() => deliverRoom({ ...message, replyQuote: message.replyToSeq > 0n ? quote : undefined }, attachments)),
              ),
            ),
        );
        if (!duplicate) hub.setTyping(roomCode, s.peer.username, false);
        return { roomCode, seq: message.seq, sentAtMs: BigInt(message.sentAtMs), clientMessageId: message.clientMessageId, duplicate };
      });

      /** Hands a stored room event to this node's hub (in seq order) and to the other nodes. */
      const deliverRoom = (message: StoredMessage, attachments: ReadonlyArray<AttachmentInit> = []) => {
        const bytes = encodeMessage(message, attachments);
        hub.deliver(message.roomCode, message.seq, bytes);
        if (!bus.standalone) bus.publish({ _tag: "RoomMessage", room: message.roomCode, seq: message.seq, payload: payloadOf(bytes) });
      };

      /** Pushes a stored direct event to both users' connections, here and on the other nodes (not to `except`). */
      const deliverDirect = (message: StoredDirect, except: Peer, attachments: ReadonlyArray<AttachmentInit> = []) => {
        const bytes = encodePush({ case: "directMessage", value: directInit(message, attachments) });
        hub.sendToUser(message.recipient, bytes);
        hub.sendToUser(message.sender, bytes, except);
        if (!bus.standalone) bus.publish({ _tag: "UserPush", usernames: [message.recipient, message.sender], payload: payloadOf(bytes) });
      };

      /** The quote of the plain message `seq` of a page read; NotFound when it is no plain message. */
      const quoteOf = (
        page: { readonly messages: ReadonlyArray<StoredMessage | StoredDirect> },
        seq: bigint,
      ): Effect.Effect<Quote, NotFound> => {
        const target = page.messages[0];
        if (target === undefined || target.seq !== seq || target.action !== undefined)
          return Effect.fail(new NotFound({ what: "message" }));
        return Effect.succeed({ sender: target.sender, text: quoteText(target.text), deleted: target.deleted });
      };
      const roomQuote = (roomCode: string, seq: bigint) =>
        Effect.flatMap(store.readMessages(roomCode, { anchorSeq: seq - 1n, direction: "forward", limit: 1 }), (page) => quoteOf(page, seq));
      const directQuote = (a: string, b: string, seq: bigint) =>
        Effect.flatMap(store.readDirect(a, b, { anchorSeq: seq - 1n, direction: "forward", limit: 1 }), (page) => quoteOf(page, seq));

      /**
       * After a delete committed: the deleted message's files go too (their records and, once unreferenced, their
       * bytes). The delete already stands, so a failure here is logged, not answered; the files then stay stored
       * (unreachable through the message, which shows no attachments once deleted).
       */
      const releaseFiles = (
        conversation: Parameters<typeof files.release>[0],
        read: Effect.Effect<{ readonly messages: ReadonlyArray<StoredMessage | StoredDirect> }, StoreError | StorageUnavailable>,
      ) =>
        read.pipe(
          Effect.flatMap((page) => {
            const target = page.messages[0];
            return target === undefined || target.action !== undefined
              ? Effect.void
              : files.release(conversation, target.sender, target.clientMessageId);
          }),
          Effect.catchCause((cause) => Effect.logWarning("deleting a message's files failed", { cause: String(cause) })),
        );

      const act = Effect.fn("Chat.act")(function* (s: Sender, action: ActionRequest) {
        const { req } = action;
        const cmid = yield* clientMessageId(req.clientMessageId);
        const base = { sender: s.peer.username, clientMessageId: cmid, targetSeq: req.targetSeq, sentAtMs: Date.now() };
        let input: NewAction;
        switch (action._tag) {
          case "edit":
            input = { ...base, kind: "edit", text: yield* messageText(action.req.text), emoji: "" };
            break;
          case "delete":
            input = { ...base, kind: "delete", text: "", emoji: "" };
            break;
          case "react":
            input = { ...base, kind: action.req.add ? "reaction-add" : "reaction-remove", text: "", emoji: yield* emoji(action.req.emoji) };
            break;
        }
        const conversation = req.conversation;
        if (conversation.case === "roomCode") {
          const roomCode = yield* memberRoom(s, conversation.value);
          // As in send: a stored event is always handed to the hub (later seqs wait for it), a duplicate too.
          const { message, duplicate } = yield* Effect.uninterruptible(
            store.appendRoomAction({ ...input, roomCode }).pipe(Effect.tap(({ message }) => Effect.sync(() => deliverRoom(message)))),
          );
          if (input.kind === "delete")
            yield* releaseFiles(
              { _tag: "room", code: roomCode },
              store.readMessages(roomCode, { anchorSeq: input.targetSeq - 1n, direction: "forward", limit: 1 }),
            );
          return {
            case: "sendAck",
            value: { roomCode, seq: message.seq, sentAtMs: BigInt(message.sentAtMs), clientMessageId: message.clientMessageId, duplicate },
          } as const;
        }
        if (conversation.case === "peer") {
          const recipient = yield* recipientOf(s, conversation.value);
          const { message, duplicate } = yield* store.appendDirectAction({ ...input, recipient });
          if (!duplicate) deliverDirect(message, s.peer);
          if (input.kind === "delete") {
            yield* releaseFiles(
              directConversation(s.peer.username, recipient),
              store.readDirect(s.peer.username, recipient, { anchorSeq: input.targetSeq - 1n, direction: "forward", limit: 1 }),
            );
          }
          return {
            case: "directAck",
            value: { recipient, seq: message.seq, sentAtMs: BigInt(message.sentAtMs), clientMessageId: message.clientMessageId, duplicate },
          } as const;
        }
        return yield* new InvalidArgument({ message: "room_code or peer is required" });
      });

      const history = Effect.fn("Chat.history")(function* (s: Sender, req: HistoryRequest) {
        const roomCode = yield* memberRoom(s, req.roomCode);
        const query = yield* pageQuery(req.anchorSeq, req.direction, req.limit);
        const page = yield* store.readMessages(roomCode, query);
        const attached = yield* attachmentsOf({ _tag: "room", code: roomCode }, page.messages);
        return { roomCode, messages: page.messages.map((m) => messageInit(m, attached.get(keyOf(m)))), hasMore: page.hasMore };
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
        const attached = yield* attachmentsOf({ _tag: "room", code: roomCode }, page.messages);
        return { roomCode, recovered: true, messages: page.messages.map((m) => messageInit(m, attached.get(keyOf(m)))), lastSeq };
      });

      const recipientOf = (s: Sender, name: string) =>
        Effect.gen(function* () {
          const user = yield* store.findUser(usernameKey(name.trim()));
          if (!user) return yield* new NotFound({ what: "user" });
          if (user.username === s.peer.username) return yield* new InvalidArgument({ message: "cannot send a direct message to yourself" });
          return user.username;
        });

      const sendDirect = Effect.fn("Chat.sendDirect")(function* (s: Sender, req: SendDirectRequest) {
        const text = yield* bodyText(req.text, req.attachmentIds.length);
        const cmid = yield* clientMessageId(req.clientMessageId);
        const recipient = yield* recipientOf(s, req.recipient);
        const quote = req.replyToSeq === 0n ? undefined : yield* directQuote(s.peer.username, recipient, req.replyToSeq);
        // As in send: claimed (durable) before the message is stored.
        const attachments = yield* files.attach(directConversation(s.peer.username, recipient), s.peer.username, cmid, req.attachmentIds);
        const { message, duplicate } = yield* store.appendDirect({
          sender: s.peer.username,
          recipient,
          clientMessageId: cmid,
          text,
          sentAtMs: Date.now(),
          replyToSeq: req.replyToSeq,
        });
        if (!duplicate) deliverDirect({ ...message, replyQuote: message.replyToSeq > 0n ? quote : undefined }, s.peer, attachments);
        return { recipient, seq: message.seq, sentAtMs: BigInt(message.sentAtMs), clientMessageId: message.clientMessageId, duplicate };
      });

      const directHistory = Effect.fn("Chat.directHistory")(function* (s: Sender, req: DirectHistoryRequest) {
        const query = yield* pageQuery(req.anchorSeq, req.direction, req.limit);
        const peer = yield* store.findUser(usernameKey(req.peer.trim()));
        if (!peer) return yield* new NotFound({ what: "user" });
        const page = yield* store.readDirect(s.peer.username, peer.username, query);
        const attached = yield* attachmentsOf(directConversation(s.peer.username, peer.username), page.messages);
        return { peer: peer.username, messages: page.messages.map((m) => directInit(m, attached.get(keyOf(m)))), hasMore: page.hasMore };
      });

      const typing = (s: Sender, req: TypingRequest) =>
        memberRoom(s, req.roomCode).pipe(Effect.map((roomCode) => hub.setTyping(roomCode, s.peer.username, req.typing)));

      return Chat.of({ send, history, recover, sendDirect, act, typing, directHistory });
    }),
  );
}
