// The SDK's core as one pure transition: step(state, event, ctx) → { state, effects }. It composes the
// connection lifecycle (connection.ts), the request table and pacing (requests.ts), rooms and their recovery
// (rooms.ts) and retried sends and online users (direct.ts). No sockets, timers or promises here: the shell
// (client.ts) feeds socket, timer and API events in and performs the effects in order. Longer than the other
// modules (about 500 lines) because it is the one place where those parts meet: each handler is short.
import { create, fromBinary } from "@bufbuild/protobuf";
import type { AuthOk } from "../../../proto/gen/es/chat/v1/auth_pb.js";
import type { DirectMessage } from "../../../proto/gen/es/chat/v1/direct_pb.js";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { type ChatMessage, type RecoverResult, RecoverResultSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { PresenceEvent, TypingEvent, UserPresenceEvent } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import type { RoomJoined } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { type BackoffOptions, backoffDelay } from "./backoff.ts";
import {
  type AuthIntent,
  attemptOf,
  type Connection,
  type ConnectionState,
  explicitAuth,
  heartbeatTick,
  lossDecision,
  noSession,
  pongReceived,
  publicState,
  type Session,
  sessionInfo,
  socketOf,
  startHeartbeat,
} from "./connection.ts";
import { noOnline, type Online, onlineResynced, type Send, sendFailed, textError, userPresenceApplied } from "./direct.ts";
import { ChatError, describeClose } from "./errors.ts";
import * as Req from "./requests.ts";
import { pushed, presenceApplied, recovered, recovering, rejoined, type RoomState, subscribed } from "./rooms.ts";

export interface ChatEvents {
  /** Every state change; while reconnecting, `nextRetryMs` says when the next attempt starts. */
  state: { state: ConnectionState; attempt: number; nextRetryMs?: number; closeCode?: number; reason?: string };
  /** The connection is authenticated (after register/login/resume and after every automatic reconnect). */
  authenticated: AuthOk;
  /** Room messages, live and recovered: per room in seq order, each seq once. Own messages included. */
  message: ChatMessage;
  /** A member joined or left a subscribed room (also synthesised from the member list after a reconnect). */
  presence: PresenceEvent;
  typing: TypingEvent;
  /** A direct message pushed by the server. Messages sent from this client are not echoed: see sendDirect's ack. */
  direct: DirectMessage;
  /** A user came online or went offline (after onlineUsers(true); also synthesised after a reconnect). */
  userPresence: UserPresenceEvent;
  /** A reconnect recovered every missed message of the room (`count` of them, already emitted as `message`). */
  recovered: { roomCode: string; count: number };
  /** Missed messages of the room could not be replayed: reload it with history(). `lastSeq` is what was seen. */
  notRecovered: { roomCode: string; lastSeq: bigint };
  /** Errors not tied to a returned promise (a close code that stops reconnecting, a subscribed room that is gone). */
  error: ChatError;
  /**
   * A socket ended; `willReconnect` says whether the client will try again by itself. When it is false the
   * client has already stopped: `state` is "disconnected" and every pending request and send is rejected.
   */
  closed: { code: number; reason: string; willReconnect: boolean };
}

export type Emitted = { [K in keyof ChatEvents]: { readonly name: K; readonly payload: ChatEvents[K] } }[keyof ChatEvents];

export interface Config {
  readonly backoff: BackoffOptions;
  /** Reconnect by itself after a lost connection. */
  readonly reconnect: boolean;
  readonly requestTimeoutMs: number;
  readonly pacing: Req.Pacing;
}

export interface ClientState {
  readonly config: Config;
  readonly conn: Connection;
  readonly session: Session;
  readonly requests: Req.Requests;
  readonly rooms: ReadonlyMap<string, RoomState>;
  /** Rooms whose rejoin or recovery waits for a "resync:<code>" timer after a transient error. */
  readonly resyncs: ReadonlyMap<string, { readonly sub: number; readonly socket: number; readonly what: "rejoin" | "recover" }>;
  readonly online: Online;
  /** Sends not yet acked or failed, by ticket. */
  readonly sends: ReadonlyMap<number, Send>;
  readonly nextSocket: number;
  readonly nextSub: number;
}

/** A request the app made (the shell holds its promise under `ticket`). */
export type AppRequest = Extract<Req.Purpose, { _tag: "User" | "Join" | "Online" }>;

export type Event =
  | { readonly _tag: "Authenticate"; readonly ticket: number; readonly kind: Req.ClientKind }
  | {
      readonly _tag: "Request";
      readonly ticket: number;
      readonly kind: Req.ClientKind;
      readonly expect: Req.ReplyCase;
      readonly idempotent: boolean;
      readonly purpose: AppRequest;
    }
  | { readonly _tag: "Send"; readonly ticket: number; readonly kind: Req.ClientKind; readonly expect: "sendAck" | "directAck"; readonly text: string }
  | { readonly _tag: "Leave"; readonly ticket: number; readonly code: string }
  | { readonly _tag: "Typing"; readonly code: string; readonly typing: boolean }
  /** close() / the end of logout(): stop, forget the rooms, and (logout) the token. */
  | { readonly _tag: "Close"; readonly forgetToken: boolean; readonly error: ChatError }
  | { readonly _tag: "SocketOpened"; readonly socket: number }
  | { readonly _tag: "SocketMessage"; readonly socket: number; readonly data: Uint8Array }
  | { readonly _tag: "SocketClosed"; readonly socket: number; readonly code: number; readonly reason: string }
  /** The WebSocket constructor threw. */
  | { readonly _tag: "SocketFailed"; readonly socket: number; readonly error: unknown }
  | { readonly _tag: "Timer"; readonly timer: string };

export type Effect =
  | { readonly _tag: "Open"; readonly socket: number }
  | { readonly _tag: "Write"; readonly socket: number; readonly bytes: Uint8Array<ArrayBuffer> }
  | { readonly _tag: "CloseSocket"; readonly socket: number; readonly code: number; readonly reason: string }
  /** One-shot; setting a timer that is set replaces it. */
  | { readonly _tag: "SetTimer"; readonly timer: string; readonly ms: number }
  | { readonly _tag: "ClearTimer"; readonly timer: string }
  | { readonly _tag: "Resolve"; readonly ticket: number; readonly value: unknown }
  | { readonly _tag: "Reject"; readonly ticket: number; readonly error: ChatError }
  | { readonly _tag: "Emit"; readonly event: Emitted };

/** The clock reading and one random draw in [0, 1) for this step (jitter), so step stays a pure function. */
export interface Ctx {
  readonly now: number;
  readonly random: number;
}

export interface Step {
  readonly state: ClientState;
  readonly effects: ReadonlyArray<Effect>;
}

export const initialState = (config: Config, nowMs: number): ClientState => ({
  config,
  conn: { _tag: "Idle" },
  session: noSession,
  requests: Req.emptyRequests(config.pacing, nowMs),
  rooms: new Map(),
  resyncs: new Map(),
  online: noOnline,
  sends: new Map(),
  nextSocket: 1,
  nextSub: 1,
});

// A step builds its result in a local transaction: `s` is replaced (never mutated), effects are appended.
interface Tx {
  s: ClientState;
  readonly fx: Effect[];
  readonly ctx: Ctx;
}

export const step = (state: ClientState, event: Event, ctx: Ctx): Step => {
  const t: Tx = { s: state, fx: [], ctx };
  handle(t, event);
  return { state: t.s, effects: t.fx };
};

const handle = (t: Tx, e: Event): void => {
  switch (e._tag) {
    case "Authenticate":
      return authenticate(t, e.ticket, e.kind);
    case "Request":
      return void request(t, { ticket: e.ticket, kind: e.kind, expect: e.expect, idempotent: e.idempotent, purpose: e.purpose, timeoutMs: t.s.config.requestTimeoutMs });
    case "Send": {
      const invalid = textError(e.text);
      if (invalid) return reject(t, e.ticket, invalid);
      put(t, { sends: new Map(t.s.sends).set(e.ticket, { ticket: e.ticket, kind: e.kind, expect: e.expect, failures: 0, call: undefined }) });
      return attemptSend(t, e.ticket);
    }
    case "Leave": {
      // At once, even while disconnected: the server forgot this connection's rooms when it dropped.
      dropRoom(t, e.code);
      if (t.s.conn._tag !== "Ready") return resolve(t, e.ticket, undefined);
      return void request(t, { ticket: e.ticket, kind: { case: "leaveRoom", value: { code: e.code } }, expect: "ok", idempotent: true, purpose: { _tag: "Leave" }, timeoutMs: t.s.config.requestTimeoutMs });
    }
    case "Typing":
      if (t.s.conn._tag !== "Ready") return;
      return void request(t, { ticket: undefined, kind: { case: "typing", value: { roomCode: e.code, typing: e.typing } }, expect: "ok", idempotent: false, purpose: { _tag: "Typing" }, timeoutMs: 0 });
    case "Close":
      return stop(t, { clearSession: true, forgetToken: e.forgetToken, error: e.error, emitError: false });
    case "SocketOpened":
      return socketOpened(t, e.socket);
    case "SocketMessage":
      if (socketOf(t.s.conn) !== e.socket) return;
      return frameReceived(t, e.data);
    case "SocketClosed":
      if (socketOf(t.s.conn) !== e.socket) return; // a socket this client already let go of
      return lost(t, e.code, e.reason, undefined);
    case "SocketFailed": {
      if (socketOf(t.s.conn) !== e.socket) return;
      return lost(t, 1006, "could not open a socket", new ChatError("cannot open a WebSocket to the server", { closeCode: 1006, cause: e.error }));
    }
    case "Timer":
      return timer(t, e.timer);
  }
};

// ---------------------------------------------------------------------------------------------- helpers

const put = (t: Tx, patch: Partial<ClientState>): void => {
  t.s = { ...t.s, ...patch };
};
const emit = <K extends keyof ChatEvents>(t: Tx, name: K, payload: ChatEvents[K]): void => {
  t.fx.push({ _tag: "Emit", event: { name, payload } as Emitted });
};
const resolve = (t: Tx, ticket: number | undefined, value: unknown): void => {
  if (ticket !== undefined) t.fx.push({ _tag: "Resolve", ticket, value });
};
const reject = (t: Tx, ticket: number | undefined, error: ChatError): void => {
  if (ticket !== undefined) t.fx.push({ _tag: "Reject", ticket, error });
};
const setTimer = (t: Tx, timer: string, ms: number): void => void t.fx.push({ _tag: "SetTimer", timer, ms });
const clearTimer = (t: Tx, timer: string): void => void t.fx.push({ _tag: "ClearTimer", timer });
const emitState = (t: Tx, extra: { nextRetryMs?: number; closeCode?: number; reason?: string } = {}): void =>
  emit(t, "state", { state: publicState(t.s.conn), attempt: attemptOf(t.s.conn), ...extra });
const setRoom = (t: Tx, room: RoomState): void => put(t, { rooms: new Map(t.s.rooms).set(room.code, room) });
const dropRoom = (t: Tx, code: string): void => {
  const rooms = new Map(t.s.rooms);
  const resyncs = new Map(t.s.resyncs);
  rooms.delete(code);
  resyncs.delete(code);
  put(t, { rooms, resyncs });
};

// ---------------------------------------------------------------------------------------------- connection

const authenticate = (t: Tx, ticket: number, kind: Req.ClientKind): void => {
  const conn = t.s.conn;
  if (conn._tag === "Ready") {
    return reject(t, ticket, new ChatError("already authenticated: log out or close first", { code: ErrorCode.ALREADY_AUTHENTICATED }));
  }
  if (explicitAuth(conn)) return reject(t, ticket, new ChatError("an authentication is already in progress"));
  // An explicit auth replaces any automatic reconnect in progress.
  clearTimer(t, "retry");
  const socket = socketOf(conn);
  if (socket !== undefined) {
    releaseSocket(t, new ChatError("connection closed: replaced by a new authentication", { closeCode: 1000 }));
    t.fx.push({ _tag: "CloseSocket", socket, code: 1000, reason: "replaced by a new authentication" });
    emit(t, "closed", { code: 1000, reason: "replaced by a new authentication", willReconnect: false });
  }
  open(t, { _tag: "Explicit", ticket, kind }, 0);
  emitState(t);
};

const open = (t: Tx, auth: AuthIntent, attempt: number): void => {
  const socket = t.s.nextSocket;
  put(t, {
    conn: { _tag: "Opening", socket, attempt, auth },
    nextSocket: socket + 1,
    requests: Req.socketOpened(t.s.requests, t.ctx.now, t.s.config.pacing),
  });
  t.fx.push({ _tag: "Open", socket });
  // Not open and authenticated in time (a black-holed network, a server that never answers): give up on it.
  setTimer(t, "connect", t.s.config.requestTimeoutMs);
};

const socketOpened = (t: Tx, socket: number): void => {
  const conn = t.s.conn;
  if (conn._tag !== "Opening" || conn.socket !== socket) return;
  const next = Req.nextFrameId(t.s.requests);
  const kind: Req.ClientKind = conn.auth._tag === "Explicit" ? conn.auth.kind : { case: "resume", value: { sessionToken: conn.auth.token } };
  put(t, {
    requests: { ...next.req, tokens: next.req.tokens - 1 },
    conn: { _tag: "Authenticating", socket, attempt: conn.attempt, auth: conn.auth, frameId: next.id },
  });
  t.fx.push({ _tag: "Write", socket, bytes: Req.encode(next.id, kind) });
};

const authReply = (t: Tx, conn: Extract<Connection, { _tag: "Authenticating" }>, kind: ServerFrame["kind"]): void => {
  if (kind.case === "authOk") return authenticated(t, conn, kind.value);
  const what = conn.auth._tag === "Explicit" ? (conn.auth.kind.case ?? "auth") : "resume";
  const err = kind.case === "error" ? Req.replyError(kind.value, what) : new ChatError(`${what}: unexpected reply ${kind.case ?? "(none)"}`);
  if (conn.auth._tag === "Explicit") {
    reject(t, conn.auth.ticket, err);
    return stop(t, { clearSession: false, forgetToken: false, error: err, emitError: false });
  }
  if (err.code === ErrorCode.UNAUTHENTICATED) {
    return stop(t, {
      clearSession: false,
      forgetToken: true,
      error: new ChatError("the session expired or was revoked: log in again", { code: ErrorCode.UNAUTHENTICATED }),
      emitError: true,
    });
  }
  drop(t, 1006, "resume failed");
};

const authenticated = (t: Tx, conn: Extract<Connection, { _tag: "Authenticating" }>, ok: AuthOk): void => {
  if (t.s.session.username !== undefined && t.s.session.username !== ok.username) {
    // Another user on this client: nothing of the previous session applies.
    const err = new ChatError("another user logged in on this client");
    for (const call of Req.waiting(t.s.requests)) {
      reject(t, call.ticket, err);
      put(t, { requests: Req.removed(t.s.requests, call.key) });
    }
    for (const send of t.s.sends.values()) {
      reject(t, send.ticket, err);
      clearTimer(t, `resend:${send.ticket}`);
      if (send.call !== undefined) put(t, { requests: Req.removed(t.s.requests, send.call) });
    }
    put(t, { rooms: new Map(), resyncs: new Map(), online: noOnline, sends: new Map() });
  }
  const info = sessionInfo(ok);
  clearTimer(t, "connect");
  put(t, {
    conn: { _tag: "Ready", socket: conn.socket, heartbeat: startHeartbeat(info.heartbeatIntervalMs) },
    session: { ...t.s.session, username: ok.username, token: ok.sessionToken, info, reauthStrikes: 0 },
  });
  setTimer(t, "heartbeat", info.heartbeatIntervalMs);
  emitState(t);
  emit(t, "authenticated", ok);
  if (conn.auth._tag === "Explicit") resolve(t, conn.auth.ticket, ok);
  // Resync in the order the server must see it: rejoin rooms, then presence, then everything queued
  // (resent messages after their room's join). The server handles one connection's frames in order.
  for (const room of t.s.rooms.values()) rejoin(t, room);
  if (t.s.online.subscribed) resyncOnline(t);
  for (const call of Req.waiting(t.s.requests)) put(t, { requests: Req.dispatched(t.s.requests, call.key) });
  pump(t);
};

/** Forgets everything tied to the socket: requests wait again or are rejected with `err`, rooms will recover. */
const releaseSocket = (t: Tx, err: ChatError): void => {
  clearTimer(t, "connect");
  clearTimer(t, "heartbeat");
  clearTimer(t, "pump");
  clearTimer(t, "online-resync");
  const { req, dropped } = Req.socketLost(t.s.requests);
  for (const call of dropped) {
    if (call.ticket !== undefined) clearTimer(t, `timeout:${call.key}`);
    reject(t, call.ticket, err);
  }
  const rooms = new Map<string, RoomState>();
  for (const [code, room] of t.s.rooms) rooms.set(code, recovering(room));
  put(t, { requests: req, rooms, resyncs: new Map() });
};

/** Ends the current socket from this side and handles it as a lost connection (no waiting for a close handshake). */
const drop = (t: Tx, code: number, reason: string, authError?: ChatError): void => {
  const socket = socketOf(t.s.conn);
  if (socket === undefined) return;
  t.fx.push({ _tag: "CloseSocket", socket, code: code >= 3000 && code <= 4999 ? code : 4000, reason });
  lost(t, code, reason, authError);
};

/** The socket ended (closed by the server or the network, or dropped by `drop`). */
const lost = (t: Tx, code: number, reason: string, authError: ChatError | undefined): void => {
  const conn = t.s.conn;
  const explicit = explicitAuth(conn);
  if (explicit) {
    // The app's register/login/resume gets the reason; there is no session to keep.
    reject(t, explicit.ticket, authError ?? (conn._tag === "Opening"
      ? new ChatError(`could not connect to the server (${code})`, { closeCode: code })
      : new ChatError(`connection lost before the reply (${code})`, { closeCode: code })));
  }
  releaseSocket(t, new ChatError(`connection lost before the reply (${code})`, { closeCode: code }));
  const closed = { code, reason };
  const error = new ChatError(describeClose(code), { closeCode: code });
  if (explicit || (conn._tag === "Ready" && !t.s.config.reconnect)) {
    return stop(t, { clearSession: false, forgetToken: false, error, emitError: conn._tag === "Ready", closeCode: code, reason, closed });
  }
  const decision = lossDecision(t.s.session, code);
  put(t, { session: decision.session });
  if (!decision.willReconnect) {
    return stop(t, { clearSession: false, forgetToken: decision.forgetToken, error, emitError: true, closeCode: code, reason, closed });
  }
  const attempt = attemptOf(conn);
  const delay = backoffDelay(attempt, t.s.config.backoff, () => t.ctx.random, decision.slow);
  put(t, { conn: { _tag: "Backoff", attempt: attempt + 1 } });
  setTimer(t, "retry", delay);
  emit(t, "closed", { ...closed, willReconnect: true });
  emitState(t, { nextRetryMs: delay, closeCode: code, reason });
};

interface StopOptions {
  readonly clearSession: boolean;
  readonly forgetToken: boolean;
  /** What every pending request and send is rejected with. */
  readonly error: ChatError;
  readonly emitError: boolean;
  readonly closeCode?: number;
  readonly reason?: string;
  /** The socket already ended with this (not closed by this client). */
  readonly closed?: { code: number; reason: string };
}

/**
 * Terminal: no socket, no reconnect, nothing pending. The whole transition is decided before anything is
 * reported: every promise is settled first, then `closed`, `error` and `state` are emitted with the client
 * already disconnected, so a listener that calls back into the client (log in again, close) starts from here.
 */
const stop = (t: Tx, o: StopOptions): void => {
  const before = publicState(t.s.conn);
  const socket = socketOf(t.s.conn);
  let closed = o.closed;
  if (socket !== undefined && closed === undefined) {
    releaseSocket(t, new ChatError("connection closed: closed by the client", { closeCode: 1000 }));
    t.fx.push({ _tag: "CloseSocket", socket, code: 1000, reason: "closed by the client" });
    closed = { code: 1000, reason: "closed by the client" };
  }
  clearTimer(t, "retry");
  for (const call of Req.allCalls(t.s.requests)) {
    if (call.ticket !== undefined) clearTimer(t, `timeout:${call.key}`);
    reject(t, call.ticket, o.error);
  }
  for (const send of t.s.sends.values()) {
    if (send.call === undefined) clearTimer(t, `resend:${send.ticket}`);
    reject(t, send.ticket, o.error);
  }
  const { nextKey, nextId } = t.s.requests;
  const session = o.forgetToken ? { ...t.s.session, token: undefined, info: undefined } : t.s.session;
  put(t, {
    conn: { _tag: "Idle" },
    requests: { ...Req.emptyRequests(t.s.config.pacing, t.ctx.now), nextKey, nextId },
    sends: new Map(),
    resyncs: new Map(),
    session: o.clearSession && o.forgetToken ? { ...session, username: undefined } : session,
    ...(o.clearSession ? { rooms: new Map(), online: noOnline } : {}),
  });
  if (closed) emit(t, "closed", { ...closed, willReconnect: false });
  if (o.emitError) emit(t, "error", o.error);
  if (before !== "disconnected") {
    emitState(t, { ...(o.closeCode !== undefined ? { closeCode: o.closeCode } : {}), ...(o.reason !== undefined ? { reason: o.reason } : {}) });
  }
};

const timer = (t: Tx, name: string): void => {
  const conn = t.s.conn;
  if (name === "retry") {
    if (conn._tag !== "Backoff") return;
    const token = t.s.session.token;
    if (token === undefined) return stop(t, { clearSession: false, forgetToken: false, error: new ChatError("no session to resume: log in again"), emitError: true });
    open(t, { _tag: "Resume", token }, conn.attempt);
    return;
  }
  if (name === "connect") {
    if (conn._tag !== "Opening" && conn._tag !== "Authenticating") return;
    return drop(t, 1006, "connecting timed out", conn._tag === "Opening" ? new ChatError("connecting timed out", { closeCode: 1006 }) : undefined);
  }
  if (name === "heartbeat") {
    if (conn._tag !== "Ready") return;
    const next = Req.nextFrameId(t.s.requests);
    const tick = heartbeatTick(conn.heartbeat, next.id);
    if (!tick.ping) return drop(t, 4000, "no pong for two pings");
    put(t, { requests: next.req, conn: { ...conn, heartbeat: tick.heartbeat } });
    // Pings bypass the pacing queue: a backlog must not look like a dead connection.
    const ping = { case: "ping", value: { nonce: tick.heartbeat.nonce, clientTimeMs: BigInt(t.ctx.now) } } as const;
    t.fx.push({ _tag: "Write", socket: conn.socket, bytes: Req.encode(next.id, ping) });
    return setTimer(t, "heartbeat", conn.heartbeat.intervalMs);
  }
  if (name === "pump") {
    put(t, { requests: { ...t.s.requests, pumpArmed: false } });
    return pump(t);
  }
  if (name === "online-resync") {
    if (conn._tag === "Ready" && t.s.online.subscribed) resyncOnline(t);
    return;
  }
  const [kind, arg = ""] = [name.slice(0, name.indexOf(":")), name.slice(name.indexOf(":") + 1)];
  if (kind === "timeout") {
    const call = t.s.requests.calls.get(Number(arg));
    if (!call) return;
    put(t, { requests: Req.removed(t.s.requests, call.key) });
    return reject(t, call.ticket, new ChatError(`${call.kind.case ?? "request"}: no reply within ${t.s.config.requestTimeoutMs} ms`));
  }
  if (kind === "resend") {
    const send = t.s.sends.get(Number(arg));
    if (send && send.call === undefined) attemptSend(t, send.ticket);
    return;
  }
  if (kind === "resync") {
    const pending = t.s.resyncs.get(arg);
    const room = t.s.rooms.get(arg);
    if (!pending) return;
    const resyncs = new Map(t.s.resyncs);
    resyncs.delete(arg);
    put(t, { resyncs });
    if (conn._tag !== "Ready" || conn.socket !== pending.socket || !room || room.sub !== pending.sub) return;
    return pending.what === "rejoin" ? rejoin(t, room) : recover(t, room);
  }
};

// ---------------------------------------------------------------------------------------------- requests

interface RequestInit {
  readonly ticket: number | undefined;
  readonly kind: Req.ClientKind;
  readonly expect: Req.ReplyCase;
  readonly idempotent: boolean;
  readonly purpose: Req.Purpose;
  readonly timeoutMs: number;
}

/** Sends now, queues until the connection is back, or rejects when there is none to wait for. */
const request = (t: Tx, init: RequestInit): Req.Call | undefined => {
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
const pump = (t: Tx): void => {
  const conn = t.s.conn;
  if (conn._tag !== "Ready") return;
  const out = Req.pumped(t.s.requests, t.ctx.now, t.s.config.pacing);
  put(t, { requests: out.req });
  for (const bytes of out.writes) t.fx.push({ _tag: "Write", socket: conn.socket, bytes });
  if (out.armMs !== undefined) setTimer(t, "pump", out.armMs);
};

const frameReceived = (t: Tx, data: Uint8Array): void => {
  let frame: ServerFrame;
  try {
    frame = fromBinary(ServerFrameSchema, data);
  } catch {
    return; // undecodable: nothing to match it to
  }
  const conn = t.s.conn;
  const kind = frame.kind;
  if (frame.id !== 0) {
    if (conn._tag === "Ready" && kind.case === "pong") {
      const heartbeat = pongReceived(conn.heartbeat, frame.id);
      if (heartbeat) return put(t, { conn: { ...conn, heartbeat } });
    }
    if (conn._tag === "Authenticating" && frame.id === conn.frameId) return authReply(t, conn, kind);
    const call = Req.byFrameId(t.s.requests, frame.id);
    if (call) replied(t, call, kind);
    return;
  }
  pushReceived(t, kind);
};

const replied = (t: Tx, call: Req.Call, kind: ServerFrame["kind"]): void => {
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
const rejoin = (t: Tx, room: RoomState): void => {
  setRoom(t, recovering(room));
  request(t, { ticket: undefined, kind: { case: "joinRoom", value: { code: room.code } }, expect: "roomJoined", idempotent: false, purpose: { _tag: "Rejoin", code: room.code, sub: room.sub }, timeoutMs: 0 });
};

const recover = (t: Tx, room: RoomState): void => {
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
  if (err.code === undefined || err.code === ErrorCode.RATE_LIMITED || err.code === ErrorCode.UNAVAILABLE || err.code === ErrorCode.INTERNAL || err.code === ErrorCode.UNSPECIFIED) {
    const delay = err.retryAfterMs ?? backoffDelay(1, t.s.config.backoff, () => t.ctx.random, true);
    put(t, { resyncs: new Map(t.s.resyncs).set(code, { sub, socket: conn.socket, what }) });
    return setTimer(t, `resync:${code}`, delay);
  }
  // NOT_FOUND: the room was destroyed while we were away. Anything else: it cannot be rejoined either.
  dropRoom(t, code);
  emit(t, "error", new ChatError(`room ${code} could not be rejoined: ${err.message}`, { code: err.code, roomCode: code, cause: err }));
};

const pushReceived = (t: Tx, kind: ServerFrame["kind"]): void => {
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
const attemptSend = (t: Tx, ticket: number): void => {
  const send = t.s.sends.get(ticket);
  if (!send) return;
  const call = request(t, { ticket: undefined, kind: send.kind, expect: send.expect, idempotent: true, purpose: { _tag: "SendAttempt", send: ticket }, timeoutMs: 0 });
  const sends = new Map(t.s.sends);
  if (call === undefined) {
    sends.delete(ticket);
    put(t, { sends });
    return reject(t, ticket, new ChatError(`${send.kind.case ?? "send"}: not connected`));
  }
  put(t, { sends: sends.set(ticket, { ...send, call: call.key }) });
};

const resyncOnline = (t: Tx): void => {
  request(t, { ticket: undefined, kind: { case: "onlineUsers", value: { subscribe: true } }, expect: "onlineUsers", idempotent: false, purpose: { _tag: "OnlineResync" }, timeoutMs: 0 });
};

