// The SDK's core as one pure transition: step(state, event, ctx) → { state, effects }. This module holds the
// connection lifecycle (open, authenticate, lose, back off, stop) and the timers; replies.ts what requests,
// replies and pushes do; core.ts the state, events and effects. No sockets, timers or promises anywhere in
// them: the shell (client.ts) feeds socket, timer and API events in and performs the effects in order.
// About 450 lines: every connection transition is here with the timer that ends it, so each reads in one place.
import { fromBinary } from "@bufbuild/protobuf";
import type { AuthOk } from "../../../proto/gen/es/chat/v1/auth_pb.js";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { backoffDelay, VISIBLE_MAX_MS } from "./backoff.ts";
import {
  type AuthIntent,
  attemptOf,
  type Connection,
  explicitAuth,
  heartbeatTick,
  lossDecision,
  pongReceived,
  publicState,
  sessionInfo,
  socketOf,
  startHeartbeat,
} from "./connection.ts";
import {
  type ClientState,
  clearTimer,
  type Ctx,
  dropRoom,
  emit,
  emitState,
  type Event,
  put,
  reject,
  resolve,
  setTimer,
  type Step,
  type Tx,
} from "./core.ts";
import { noOnline, requestError } from "./direct.ts";
import { ChatError, describeClose } from "./errors.ts";
import { attemptSend, pump, pushReceived, recover, rejoin, replied, request, resyncOnline } from "./replies.ts";
import * as Req from "./requests.ts";
import { recovering, type RoomState } from "./rooms.ts";

export type { AppRequest, ChatEvents, ClientState, Config, Ctx, Effect, Emitted, Event, Step } from "./core.ts";
export { initialState } from "./core.ts";

export const step = (state: ClientState, event: Event, ctx: Ctx): Step => {
  const t: Tx = { s: state, fx: [], ctx };
  handle(t, event);
  return { state: t.s, effects: t.fx };
};

const handle = (t: Tx, e: Event): void => {
  switch (e._tag) {
    case "Authenticate":
      return authenticate(t, e.ticket, e.kind);
    case "Request": {
      const invalid = requestError(e.kind);
      if (invalid) return reject(t, e.ticket, invalid);
      return void request(t, {
        ticket: e.ticket,
        kind: e.kind,
        expect: e.expect,
        idempotent: e.idempotent,
        purpose: e.purpose,
        timeoutMs: t.s.config.requestTimeoutMs,
      });
    }
    case "Send": {
      const invalid = requestError(e.kind);
      if (invalid) return reject(t, e.ticket, invalid);
      put(t, {
        sends: new Map(t.s.sends).set(e.ticket, { ticket: e.ticket, kind: e.kind, expect: e.expect, failures: 0, call: undefined }),
      });
      return attemptSend(t, e.ticket);
    }
    case "Leave": {
      // At once, even while disconnected: the server forgot this connection's rooms when it dropped.
      dropRoom(t, e.code);
      if (t.s.conn._tag !== "Ready") return resolve(t, e.ticket, undefined);
      return void request(t, {
        ticket: e.ticket,
        kind: { case: "leaveRoom", value: { code: e.code } },
        expect: "ok",
        idempotent: true,
        purpose: { _tag: "Leave" },
        timeoutMs: t.s.config.requestTimeoutMs,
      });
    }
    case "Typing":
      if (t.s.conn._tag !== "Ready") return;
      return void request(t, {
        ticket: undefined,
        kind: { case: "typing", value: { roomCode: e.code, typing: e.typing } },
        expect: "ok",
        idempotent: false,
        purpose: { _tag: "Typing" },
        timeoutMs: 0,
      });
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
      return lost(
        t,
        1006,
        "could not open a socket",
        new ChatError("cannot open a WebSocket to the server", { closeCode: 1006, cause: e.error }),
      );
    }
    case "Timer":
      return timer(t, e.timer);
    case "RetryNow":
      return retryNow(t);
    case "VisibilityChanged":
      return visibilityChanged(t);
  }
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
  emitState(t, publicState(conn));
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
  const kind: Req.ClientKind =
    conn.auth._tag === "Explicit" ? conn.auth.kind : { case: "resume", value: { sessionToken: conn.auth.token } };
  put(t, {
    requests: { ...next.req, tokens: next.req.tokens - 1 },
    conn: { _tag: "Authenticating", socket, attempt: conn.attempt, auth: conn.auth, frameId: next.id },
  });
  t.fx.push({ _tag: "Write", socket, bytes: Req.encode(next.id, kind) });
};

const authReply = (t: Tx, conn: Extract<Connection, { _tag: "Authenticating" }>, kind: ServerFrame["kind"]): void => {
  if (kind.case === "authOk") return authenticated(t, conn, kind.value);
  const what = conn.auth._tag === "Explicit" ? (conn.auth.kind.case ?? "auth") : "resume";
  const err =
    kind.case === "error" ? Req.replyError(kind.value, what) : new ChatError(`${what}: unexpected reply ${kind.case ?? "(none)"}`);
  if (conn.auth._tag === "Explicit") {
    reject(t, conn.auth.ticket, err);
    return stop(t, { clearSession: false, forgetToken: false, error: err, emitError: false });
  }
  if (err.code === ErrorCode.UNAUTHENTICATED) {
    return stop(t, {
      clearSession: false,
      forgetToken: true,
      error: new ChatError("the session expired or was revoked: log in again", { code: ErrorCode.UNAUTHENTICATED, request: "resume" }),
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
  emitState(t, "connecting");
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
  for (const code of t.s.resyncs.keys()) clearTimer(t, `resync:${code}`);
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
    reject(
      t,
      explicit.ticket,
      authError ??
        (conn._tag === "Opening"
          ? new ChatError(`could not connect to the server (${code})`, { closeCode: code })
          : new ChatError(`connection lost before the reply (${code})`, { closeCode: code })),
    );
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
  const delay = backoffDelay(attempt, t.s.config.backoff, () => t.ctx.random, decision.slow, t.ctx.visible === true);
  put(t, { conn: { _tag: "Backoff", attempt: attempt + 1, retryAtMs: t.ctx.now + delay, slow: decision.slow } });
  setTimer(t, "retry", delay);
  emit(t, "closed", { ...closed, willReconnect: true });
  emitState(t, publicState(conn), { nextRetryMs: delay, closeCode: code, reason });
};

/** retryNow(): the attempt waiting in Backoff starts at once (a no-op in any other state). */
const retryNow = (t: Tx): void => {
  if (t.s.conn._tag !== "Backoff") return;
  clearTimer(t, "retry");
  timer(t, "retry");
};

/**
 * The page became visible while waiting longer than the visible cap allows (the wait was drawn while it was
 * hidden): draw a new, short wait and say so, so the countdown shows the real time to the next attempt.
 */
const visibilityChanged = (t: Tx): void => {
  const conn = t.s.conn;
  if (conn._tag !== "Backoff" || t.ctx.visible !== true || conn.slow) return;
  const cap = Math.min(t.s.config.backoff.maxMs, t.s.config.backoff.visibleMaxMs ?? VISIBLE_MAX_MS);
  if (conn.retryAtMs - t.ctx.now <= cap) return;
  const delay = backoffDelay(Math.max(0, conn.attempt - 1), t.s.config.backoff, () => t.ctx.random, false, true);
  put(t, { conn: { ...conn, retryAtMs: t.ctx.now + delay } });
  setTimer(t, "retry", delay);
  emitState(t, "connecting", { nextRetryMs: delay });
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
    emitState(t, before, {
      ...(o.closeCode !== undefined ? { closeCode: o.closeCode } : {}),
      ...(o.reason !== undefined ? { reason: o.reason } : {}),
    });
  }
};

const timer = (t: Tx, name: string): void => {
  const conn = t.s.conn;
  if (name === "retry") {
    if (conn._tag !== "Backoff") return;
    const token = t.s.session.token;
    if (token === undefined)
      return stop(t, {
        clearSession: false,
        forgetToken: false,
        error: new ChatError("no session to resume: log in again"),
        emitError: true,
      });
    open(t, { _tag: "Resume", token }, conn.attempt);
    return;
  }
  if (name === "connect") {
    if (conn._tag !== "Opening" && conn._tag !== "Authenticating") return;
    return drop(
      t,
      1006,
      "connecting timed out",
      conn._tag === "Opening" ? new ChatError("connecting timed out", { closeCode: 1006 }) : undefined,
    );
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
  const colon = name.indexOf(":");
  const kind = name.slice(0, colon);
  const arg = name.slice(colon + 1);
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
