// Runs one authenticated-or-auth request against the services and builds its reply. The connection calls
// `handle` for every Execute action of the state machine; failures become Error replies in wire-errors.ts.
import { create } from "@bufbuild/protobuf";
import { Context, Effect, Layer } from "effect";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { Accounts } from "../auth/accounts.ts";
import { Chat } from "../chat/chat.ts";
import { type Config, ServerConfig } from "../config.ts";
import { type FrameKindInit, Hub, type Peer } from "../hub/hub.ts";
import { Presence } from "../presence/presence.ts";
import { type Joined, roomInit, Rooms } from "../rooms/rooms.ts";
import { InvalidArgument } from "../errors.ts";
import { type DomainError, replyOrError } from "../transport/wire-errors.ts";
import { contractViolation } from "./contract-rules.ts";
import type { Request } from "./machine.ts";

export const MAX_FRAME_BYTES = 65536;
const MAX_ROOM_LIST = 200;
const MAX_ONLINE_LIST = 1000;

/** A successful authentication, as the connection needs it to become Ready. */
export interface Authenticated {
  readonly username: string;
  readonly token: string;
  readonly expiresAtMs: number;
}

/** What a handler needs of its connection. `peer` exists once the connection is authenticated. */
export interface ConnectionView {
  readonly ip: string;
  readonly peer: Peer | undefined;
  readonly rooms: Set<string>;
  /** Queues a frame now, ahead of anything pushed later (used for RoomJoined). */
  readonly sendNow: (frame: ServerFrame) => void;
}

export type Outcome =
  | { readonly _tag: "Reply"; readonly frame: ServerFrame }
  /** The reply was already queued through sendNow. */
  | { readonly _tag: "Sent" }
  | { readonly _tag: "Authenticated"; readonly frame: ServerFrame; readonly auth: Authenticated }
  | { readonly _tag: "LoggedOut"; readonly frame: ServerFrame };

const frame = (id: number, kind: FrameKindInit): ServerFrame => create(ServerFrameSchema, { id, kind });

/** AuthOk announces the timings a client must not hard-code: heartbeat, room grace, typing TTL. */
export const authOkKind = (
  auth: Authenticated,
  config: Pick<Config, "heartbeatIntervalMs" | "heartbeatTimeoutMs" | "roomGraceMs" | "typingTtlMs">,
): FrameKindInit => ({
  case: "authOk",
  value: {
    username: auth.username,
    sessionToken: auth.token,
    sessionExpiresAtMs: BigInt(auth.expiresAtMs),
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    heartbeatTimeoutMs: config.heartbeatTimeoutMs,
    maxFrameBytes: MAX_FRAME_BYTES,
    roomGraceMs: config.roomGraceMs,
    typingTtlMs: config.typingTtlMs,
  },
});

const joinedKind = (j: Joined): FrameKindInit => ({
  case: "roomJoined",
  value: {
    room: roomInit(j.room),
    members: j.members.map((username) => ({ username })),
    memberCount: j.members.length,
    lastSeq: j.lastSeq,
  },
});

export class Handlers extends Context.Service<
  Handlers,
  { handle(conn: ConnectionView, id: number, request: Request): Effect.Effect<Outcome> }
>()("protochat/session/Handlers") {
  static readonly layer = Layer.effect(
    Handlers,
    Effect.gen(function* () {
      const accounts = yield* Accounts;
      const rooms = yield* Rooms;
      const chat = yield* Chat;
      const hub = yield* Hub;
      const presence = yield* Presence;
      const config = yield* ServerConfig;

      const reply =
        (id: number) =>
        (kind: FrameKindInit): Outcome => ({ _tag: "Reply", frame: frame(id, kind) });
      const authenticated =
        (id: number) =>
        (auth: Authenticated): Outcome => ({
          _tag: "Authenticated",
          frame: frame(id, authOkKind(auth, config)),
          auth,
        });

      const authed = (conn: ConnectionView): Peer => {
        // The state machine only executes these requests in the Ready state, where the peer exists.
        if (!conn.peer) throw new Error("request executed before authentication");
        return conn.peer;
      };

      const run = (conn: ConnectionView, id: number, request: Request): Effect.Effect<Outcome, DomainError> => {
        const ok = reply(id);
        const violation = contractViolation(request);
        if (violation !== undefined) return Effect.fail(new InvalidArgument({ message: violation }));
        switch (request.case) {
          case "register":
            return accounts.register(request.value.username, request.value.password, conn.ip).pipe(Effect.map(authenticated(id)));
          case "login":
            return accounts.login(request.value.username, request.value.password, conn.ip).pipe(Effect.map(authenticated(id)));
          case "resume":
            return accounts.resume(request.value.sessionToken).pipe(Effect.map(authenticated(id)));
          case "logout": {
            const peer = authed(conn);
            return accounts.logout(peer.token).pipe(
              Effect.tap(() => Effect.sync(() => hub.revokeSession(peer.username, peer.token, peer))),
              Effect.map((): Outcome => ({ _tag: "LoggedOut", frame: frame(id, { case: "ok", value: {} }) })),
            );
          }
          case "createRoom": {
            const m = { peer: authed(conn), ip: conn.ip, rooms: conn.rooms };
            return rooms
              .create(m, request.value.name, request.value.persistent, (j) => conn.sendNow(frame(id, joinedKind(j))))
              .pipe(Effect.as<Outcome>({ _tag: "Sent" }));
          }
          case "joinRoom": {
            const m = { peer: authed(conn), ip: conn.ip, rooms: conn.rooms };
            return rooms
              .join(m, request.value.code, (j) => conn.sendNow(frame(id, joinedKind(j))))
              .pipe(Effect.as<Outcome>({ _tag: "Sent" }));
          }
          case "leaveRoom":
            return rooms
              .leave({ peer: authed(conn), ip: conn.ip, rooms: conn.rooms }, request.value.code)
              .pipe(Effect.map(() => ok({ case: "ok", value: {} })));
          case "listRooms":
            return rooms
              .list(MAX_ROOM_LIST)
              .pipe(
                Effect.map((list) =>
                  ok({ case: "roomList", value: { rooms: list.map((r) => ({ room: roomInit(r.room), memberCount: r.memberCount })) } }),
                ),
              );
          case "sendMessage":
            return chat
              .send({ peer: authed(conn), rooms: conn.rooms }, request.value)
              .pipe(Effect.map((value) => ok({ case: "sendAck", value })));
          case "history":
            return chat
              .history({ peer: authed(conn), rooms: conn.rooms }, request.value)
              .pipe(Effect.map((value) => ok({ case: "historyPage", value })));
          case "recover":
            return chat
              .recover({ peer: authed(conn), rooms: conn.rooms }, request.value)
              .pipe(Effect.map((value) => ok({ case: "recoverResult", value })));
          case "typing": {
            const peer = authed(conn);
            return chat.typing({ peer, rooms: conn.rooms }, request.value).pipe(Effect.map(() => ok({ case: "ok", value: {} })));
          }
          case "onlineUsers": {
            const peer = authed(conn);
            hub.subscribeOnline(peer, request.value.subscribe);
            return presence
              .online(MAX_ONLINE_LIST)
              .pipe(Effect.map((o) => ok({ case: "onlineUsers", value: { usernames: [...o.usernames], truncated: o.truncated } })));
          }
          case "sendDirect":
            return chat
              .sendDirect({ peer: authed(conn), rooms: conn.rooms }, request.value)
              .pipe(Effect.map((value) => ok({ case: "directAck", value })));
          case "editMessage":
            return chat.act({ peer: authed(conn), rooms: conn.rooms }, { _tag: "edit", req: request.value }).pipe(Effect.map(ok));
          case "deleteMessage":
            return chat.act({ peer: authed(conn), rooms: conn.rooms }, { _tag: "delete", req: request.value }).pipe(Effect.map(ok));
          case "react":
            return chat.act({ peer: authed(conn), rooms: conn.rooms }, { _tag: "react", req: request.value }).pipe(Effect.map(ok));
          case "directHistory":
            return chat
              .directHistory({ peer: authed(conn), rooms: conn.rooms }, request.value)
              .pipe(Effect.map((value) => ok({ case: "directHistoryPage", value })));
          case "ping":
            // Answered by the state machine itself; never executed.
            return Effect.succeed(
              ok({
                case: "pong",
                value: { nonce: request.value.nonce, clientTimeMs: request.value.clientTimeMs, serverTimeMs: BigInt(Date.now()) },
              }),
            );
        }
      };

      const handle = (conn: ConnectionView, id: number, request: Request): Effect.Effect<Outcome> =>
        replyOrError(
          id,
          Effect.suspend(() => run(conn, id, request)),
          (frame): Outcome => ({ _tag: "Reply", frame }),
        );

      return Handlers.of({ handle });
    }),
  );
}
