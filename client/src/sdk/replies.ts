// What requests, replies and pushes do to the client state: sending (now, queued or refused), pacing, a
// reply settling its request by purpose (subscribe a room, remember online users, retry a send), the rejoin
// and recovery of rooms, and live pushes. Pure handlers over a transaction (core.ts), called by machine.ts.
import { create } from "@bufbuild/protobuf";
import type { ServerFrame } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { type RecoverResult, RecoverResultSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { RoomJoined } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { backoffDelay } from "./backoff.ts";
import { clearTimer, dropRoom, emit, put, reject, resolve, setRoom, setTimer, type Tx } from "./core.ts";
import { onlineResynced, sendFailed, userPresenceApplied } from "./direct.ts";
import { ChatError } from "./errors.ts";
import * as Req from "./requests.ts";
import { pushed, presenceApplied, recovered, recovering, rejoined, type RoomState, subscribed } from "./rooms.ts";

interface RequestInit {
  readonly ticket: number | undefined;
  readonly kind: Req.ClientKind;
  readonly expect: Req.ReplyCase;
  readonly idempotent: boolean;
  readonly purpose: Req.Purpose;
  readonly timeoutMs: number;
}

/** Sends now, queues until the connection is back, or rejects when there is none to wait for. */
export const request = (t: Tx, init: RequestInit): Req.Call | undefined => {
  const { timeoutMs, ...fields } = init;
  const ready = t.s.conn._tag === "Ready";
  const probe = { ...fields, key: 0, id: 0, sent: false };
  if (!ready && (Req.isInternal(probe) || t.s.conn._tag === "Idle")) {
    reject(t, init.ticket, new ChatError(`${init.kind.case ?? "request"}: not connected`));
    return undefined;
  }
  const { req, call } = Req.added(t.s.requests, fields);
  put(t, { requests: ready ? Req.dispatched(req, call.key) : req });
  if (timeoutMs > 0 && init.ticket !== undefined) setTimer(t, `timeout:${call.key}`, timeoutMs);
  if (ready) pump(t);
  return call;
};

/** Writes queued frames as the token bucket allows. */
export const pump = (t: Tx): void => {
  const conn = t.s.conn;
  if (conn._tag !== "Ready") return;
  const out = Req.pumped(t.s.requests, t.ctx.now, t.s.config.pacing);
  put(t, { requests: out.req });
  for (const bytes of out.writes) t.fx.push({ _tag: "Write", socket: conn.socket, bytes });
  if (out.armMs !== undefined) setTimer(t, "pump", out.armMs);
};

export const replied = (t: Tx, call: Req.Call, kind: ServerFrame["kind"]): void => {
  put(t, { requests: Req.removed(t.s.requests, call.key) });
  if (call.ticket !== undefined) clearTimer(t, `timeout:${call.key}`);
  const what = call.kind.case ?? "request";
  if (kind.case === "error") return failed(t, call, Req.replyError(kind.value, what));
  if (kind.case !== call.expect) return failed(t, call, new ChatError(`${what}: unexpected reply ${kind.case ?? "(none)"}`));
  const value = kind.value;
  const p = call.purpose;
  switch (p._tag) {
    case "User":
    case "Leave":
      return resolve(t, call.ticket, p._tag === "Leave" ? undefined : value);
    case "Join":
      subscribe(t, value as RoomJoined);
      return resolve(t, call.ticket, value);
    case "Online": {
      const usernames = (value as { usernames: string[] }).usernames;
      put(t, { online: { subscribed: p.subscribe, users: new Set(usernames) } });
      return resolve(t, call.ticket, usernames);
    }
    case "SendAttempt": {
      const send = t.s.sends.get(p.send);
      if (!send) return;
      const sends = new Map(t.s.sends);
      sends.delete(p.send);
      put(t, { sends });
      return resolve(t, send.ticket, value);
    }
    case "Rejoin": {
      const room = t.s.rooms.get(p.code);
      if (!room || room.sub !== p.sub) return;
      const joined = value as RoomJoined;
      const r = rejoined(room, joined);
      setRoom(t, r.room);
      for (const e of r.presence) emit(t, "presence", e);
      if (joined.lastSeq === r.room.lastSeq) {
        return applyRecovery(t, r.room, create(RecoverResultSchema, { roomCode: room.code, recovered: true, lastSeq: joined.lastSeq }));
      }
      return recover(t, r.room);
    }
    case "Recover": {
      const room = t.s.rooms.get(p.code);
      if (room && room.sub === p.sub) applyRecovery(t, room, value as RecoverResult);
      return;
    }
    case "OnlineResync": {
      if (!t.s.online.subscribed) return;
      const r = onlineResynced(t.s.online, (value as { usernames: string[] }).usernames);
      put(t, { online: r.online });
      for (const e of r.events) emit(t, "userPresence", e);
      return;
    }
    case "Typing":
      return;
  }
};

const failed = (t: Tx, call: Req.Call, err: ChatError): void => {
  const p = call.purpose;
  switch (p._tag) {
    case "User":
    case "Join":
    case "Online":
      return reject(t, call.ticket, err);
    case "Leave":
      return err.code === ErrorCode.NOT_MEMBER ? resolve(t, call.ticket, undefined) : reject(t, call.ticket, err);
    case "SendAttempt": {
      const send = t.s.sends.get(p.send);
      if (!send) return;
      const next = sendFailed(send, err, t.s.conn._tag !== "Idle", t.s.config.backoff, t.ctx.random);
      const sends = new Map(t.s.sends);
      if ("reject" in next) {
        sends.delete(p.send);
        put(t, { sends });
        return reject(t, send.ticket, next.reject);
      }
      put(t, { sends: sends.set(p.send, next.send) });
      return setTimer(t, `resend:${send.ticket}`, next.retryInMs);
    }
    case "Rejoin":
    case "Recover":
      return resyncFailed(t, p.code, p.sub, p._tag === "Rejoin" ? "rejoin" : "recover", err);
    case "OnlineResync":
      return setTimer(t, "online-resync", 1000);
    case "Typing":
      return;
  }
};

// ---------------------------------------------------------------------------------------------- rooms

const subscribe = (t: Tx, joined: RoomJoined): void => {
  const code = joined.room?.code;
  if (!code) return;
  const existing = t.s.rooms.get(code);
  if (existing) {
    const r = rejoined(existing, joined);
    setRoom(t, r.room);
    for (const e of r.presence) emit(t, "presence", e);
    return;
  }
  setRoom(t, subscribed(joined, t.s.nextSub));
  put(t, { nextSub: t.s.nextSub + 1 });
};

/** Rejoins a subscribed room on a new connection; its recovery follows the reply. */
export const rejoin = (t: Tx, room: RoomState): void => {
  setRoom(t, recovering(room));
  request(t, {
    ticket: undefined,
    kind: { case: "joinRoom", value: { code: room.code } },
    expect: "roomJoined",
    idempotent: false,
    purpose: { _tag: "Rejoin", code: room.code, sub: room.sub },
    timeoutMs: 0,
  });
};

export const recover = (t: Tx, room: RoomState): void => {
  setRoom(t, recovering(room));
  request(t, {
    ticket: undefined,
    kind: { case: "recover", value: { roomCode: room.code, afterSeq: room.lastSeq } },
    expect: "recoverResult",
    idempotent: false,
    purpose: { _tag: "Recover", code: room.code, sub: room.sub },
    timeoutMs: 0,
  });
};

const applyRecovery = (t: Tx, room: RoomState, result: RecoverResult): void => {
  const out = recovered(room, result);
  setRoom(t, out.room);
  if (!out.recovered) emit(t, "notRecovered", { roomCode: room.code, lastSeq: out.previousLastSeq });
  for (const m of out.deliver) emit(t, "message", m);
  if (out.recovered) emit(t, "recovered", { roomCode: room.code, count: out.recoveredCount });
  if (out.gap && t.s.conn._tag === "Ready") recover(t, out.room);
};

const resyncFailed = (t: Tx, code: string, sub: number, what: "rejoin" | "recover", err: ChatError): void => {
  const conn = t.s.conn;
  const room = t.s.rooms.get(code);
  if (conn._tag !== "Ready" || !room || room.sub !== sub) return;
  if (
    err.code === undefined ||
    err.code === ErrorCode.RATE_LIMITED ||
    err.code === ErrorCode.UNAVAILABLE ||
    err.code === ErrorCode.INTERNAL ||
    err.code === ErrorCode.UNSPECIFIED
  ) {
    const delay = err.retryAfterMs ?? backoffDelay(1, t.s.config.backoff, () => t.ctx.random, true);
    put(t, { resyncs: new Map(t.s.resyncs).set(code, { sub, socket: conn.socket, what }) });
    return setTimer(t, `resync:${code}`, delay);
  }
  // NOT_FOUND: the room was destroyed while we were away. Anything else: it cannot be rejoined either.
  dropRoom(t, code);
  emit(t, "error", new ChatError(`room ${code} could not be rejoined: ${err.message}`, { code: err.code, roomCode: code, cause: err }));
};

export const pushReceived = (t: Tx, kind: ServerFrame["kind"]): void => {
  switch (kind.case) {
    case "message": {
      const room = t.s.rooms.get(kind.value.roomCode);
      if (!room) return;
      const r = pushed(room, kind.value);
      setRoom(t, r.room);
      for (const m of r.deliver) emit(t, "message", m);
      if (r.gap && t.s.conn._tag === "Ready") recover(t, r.room);
      return;
    }
    case "presence": {
      const room = t.s.rooms.get(kind.value.roomCode);
      if (!room) return;
      setRoom(t, presenceApplied(room, kind.value));
      return emit(t, "presence", kind.value);
    }
    case "typing":
      if (t.s.rooms.has(kind.value.roomCode)) emit(t, "typing", kind.value);
      return;
    case "directMessage":
      return emit(t, "direct", kind.value);
    case "userPresence":
      put(t, { online: userPresenceApplied(t.s.online, kind.value) });
      return emit(t, "userPresence", kind.value);
    case "error":
      // An error with id 0 answers a frame the server could not attribute: a client bug.
      return emit(t, "error", Req.replyError(kind.value, "a frame"));
    default:
      return; // auth_ok push (token at upgrade, unused here) or a push kind newer than this client
  }
};

// ---------------------------------------------------------------------------------------------- sends

/** One attempt of a send: the same client message id every time. */
export const attemptSend = (t: Tx, ticket: number): void => {
  const send = t.s.sends.get(ticket);
  if (!send) return;
  const call = request(t, {
    ticket: undefined,
    kind: send.kind,
    expect: send.expect,
    idempotent: true,
    purpose: { _tag: "SendAttempt", send: ticket },
    timeoutMs: 0,
  });
  const sends = new Map(t.s.sends);
  if (call === undefined) {
    sends.delete(ticket);
    put(t, { sends });
    return reject(t, ticket, new ChatError(`${send.kind.case ?? "send"}: not connected`));
  }
  put(t, { sends: sends.set(ticket, { ...send, call: call.key }) });
};

export const resyncOnline = (t: Tx): void => {
  request(t, {
    ticket: undefined,
    kind: { case: "onlineUsers", value: { subscribe: true } },
    expect: "onlineUsers",
    idempotent: false,
    purpose: { _tag: "OnlineResync" },
    timeoutMs: 0,
  });
};
