// The per-connection protocol state machine: a pure function from (state, input, now) to the next state
// and the actions the connection's fibers must perform. No sockets, no clocks, no services: everything
// impure (running a request, writing a frame, closing) is an Action for server/src/session/connection.ts.
import { create } from "@bufbuild/protobuf";
import { type ClientFrame, type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode, ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";

/** A token bucket: `tokens` available at `atMs`. */
export interface Bucket {
  readonly tokens: number;
  readonly atMs: number;
}

export type SessionState =
  /** Connected, not yet authenticated: only register/login/resume/ping are accepted. */
  | { readonly _tag: "AwaitingAuth"; readonly violations: number; readonly bucket: Bucket; readonly rateStrikes: number }
  /** Authenticated as `username` with session `token`. */
  | {
      readonly _tag: "Ready";
      readonly username: string;
      readonly token: string;
      readonly violations: number;
      readonly bucket: Bucket;
      readonly rateStrikes: number;
    }
  /** A close code was chosen; every later input is ignored. */
  | { readonly _tag: "Closing"; readonly code: CloseCode };

/** A request the machine hands to the handlers: the frame's `kind` with its id. */
export type Request = Exclude<ClientFrame["kind"], { case: undefined }>;

export type Input =
  | { readonly _tag: "Frame"; readonly frame: ClientFrame }
  /** A binary message that is not a decodable ClientFrame. */
  | { readonly _tag: "Malformed" }
  /** A text WebSocket message. */
  | { readonly _tag: "Text" }
  /** A register/login/resume request succeeded (fed back by the connection after Execute). */
  | { readonly _tag: "Authenticated"; readonly username: string; readonly token: string }
  | { readonly _tag: "AuthDeadline" }
  | { readonly _tag: "HeartbeatTimeout" }
  | { readonly _tag: "SlowConsumer" }
  | { readonly _tag: "Shutdown" }
  /** This connection's own logout completed. */
  | { readonly _tag: "LoggedOut" }
  /** The session was logged out on another connection. */
  | { readonly _tag: "SessionRevoked" };

export type Action =
  | { readonly _tag: "Send"; readonly frame: ServerFrame }
  | { readonly _tag: "Execute"; readonly id: number; readonly request: Request }
  | { readonly _tag: "Close"; readonly code: CloseCode; readonly reason: string };

export interface Limits {
  readonly ratePerSec: number;
  readonly burst: number;
  readonly maxViolations: number;
  /** Consecutive rate-limited frames before the connection is closed with CLOSE_CODE_RATE_LIMITED. */
  readonly maxRateStrikes: number;
}

export interface Step {
  readonly state: SessionState;
  readonly actions: ReadonlyArray<Action>;
}

const AUTH_KINDS = new Set(["register", "login", "resume"]);
/** Requests whose replies can be megabytes (a page of 200 messages, a recovery of up to 1000). */
export const LARGE_REPLY_KINDS: ReadonlySet<string> = new Set(["history", "recover", "directHistory"]);
/** The retry_after_ms of a large request refused because the client has not read what it was sent. */
export const CONGESTED_RETRY_MS = 1000;

export const initialState = (nowMs: number, limits: Limits): SessionState => ({
  _tag: "AwaitingAuth",
  violations: 0,
  bucket: { tokens: limits.burst, atMs: nowMs },
  rateStrikes: 0,
});

export const errorFrame = (id: number, code: ErrorCode, message: string, retryAfterMs = 0): ServerFrame =>
  create(ServerFrameSchema, { id, kind: { case: "error", value: { code, message, retryAfterMs } } });

const closeReasons: Partial<Record<CloseCode, string>> = {
  [CloseCode.NORMAL]: "logged out",
  [CloseCode.GOING_AWAY]: "server shutting down",
  [CloseCode.UNSUPPORTED_DATA]: "text frames are not supported",
  [CloseCode.HEARTBEAT_TIMEOUT]: "heartbeat timeout",
  [CloseCode.SLOW_CONSUMER]: "slow consumer",
  [CloseCode.AUTH_TIMEOUT]: "authentication timeout",
  [CloseCode.NOT_AUTHENTICATED]: "not authenticated",
  [CloseCode.PROTOCOL_VIOLATION]: "protocol violation",
  [CloseCode.RATE_LIMITED]: "rate limited",
  [CloseCode.SESSION_REVOKED]: "session revoked",
};

const close = (code: CloseCode, before: ReadonlyArray<Action> = []): Step => ({
  state: { _tag: "Closing", code },
  actions: [...before, { _tag: "Close", code, reason: closeReasons[code] ?? "" }],
});

/** Takes one token if available; otherwise says how long until one is. */
const takeToken = (bucket: Bucket, nowMs: number, limits: Limits): { bucket: Bucket; retryAfterMs: number } => {
  const elapsed = Math.max(0, nowMs - bucket.atMs);
  const tokens = Math.min(limits.burst, bucket.tokens + (elapsed * limits.ratePerSec) / 1000);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, atMs: nowMs }, retryAfterMs: 0 };
  return { bucket: { tokens, atMs: nowMs }, retryAfterMs: Math.ceil(((1 - tokens) * 1000) / limits.ratePerSec) };
};

/** A protocol violation: answer with `code` and close once the connection has made too many. */
const violation = <S extends Extract<SessionState, { violations: number }>>(state: S, limits: Limits, reply: ServerFrame): Step => {
  const violations = state.violations + 1;
  const send: Action = { _tag: "Send", frame: reply };
  if (violations >= limits.maxViolations) return close(CloseCode.PROTOCOL_VIOLATION, [send]);
  return { state: { ...state, violations }, actions: [send] };
};

const pong = (id: number, ping: Extract<Request, { case: "ping" }>["value"], nowMs: number): Action => ({
  _tag: "Send",
  frame: create(ServerFrameSchema, {
    id,
    kind: { case: "pong", value: { nonce: ping.nonce, clientTimeMs: ping.clientTimeMs, serverTimeMs: BigInt(nowMs) } },
  }),
});

const onFrame = (
  state: Exclude<SessionState, { _tag: "Closing" }>,
  frame: ClientFrame,
  nowMs: number,
  limits: Limits,
  outboxCongested: boolean,
): Step => {
  const taken = takeToken(state.bucket, nowMs, limits);
  if (taken.retryAfterMs > 0) {
    const rateStrikes = state.rateStrikes + 1;
    const reply: Action = { _tag: "Send", frame: errorFrame(frame.id, ErrorCode.RATE_LIMITED, "too many frames", taken.retryAfterMs) };
    if (rateStrikes > limits.maxRateStrikes) return close(CloseCode.RATE_LIMITED, [reply]);
    return { state: { ...state, bucket: taken.bucket, rateStrikes }, actions: [reply] };
  }
  const next = { ...state, bucket: taken.bucket, rateStrikes: 0 };
  const { kind, id } = frame;
  if (id === 0) return violation(next, limits, errorFrame(0, ErrorCode.INVALID_ARGUMENT, "frame id must be non-zero"));
  if (kind.case === undefined)
    return violation(next, limits, errorFrame(id, ErrorCode.UNKNOWN_FRAME, "frame kind not set or not known to this server"));
  if (kind.case === "ping") return { state: next, actions: [pong(id, kind.value, nowMs)] };
  if (next._tag === "AwaitingAuth") {
    if (AUTH_KINDS.has(kind.case)) return { state: next, actions: [{ _tag: "Execute", id, request: kind }] };
    return close(CloseCode.NOT_AUTHENTICATED, [{ _tag: "Send", frame: errorFrame(id, ErrorCode.UNAUTHENTICATED, "authenticate first") }]);
  }
  if (AUTH_KINDS.has(kind.case)) {
    return {
      state: next,
      actions: [{ _tag: "Send", frame: errorFrame(id, ErrorCode.ALREADY_AUTHENTICATED, "connection is already authenticated") }],
    };
  }
  if (outboxCongested && LARGE_REPLY_KINDS.has(kind.case)) {
    // Not executed: a client that does not read would otherwise make the server hold reply after reply.
    const reply = errorFrame(id, ErrorCode.RATE_LIMITED, "earlier replies are still unread: retry once they are read", CONGESTED_RETRY_MS);
    return { state: next, actions: [{ _tag: "Send", frame: reply }] };
  }
  return { state: next, actions: [{ _tag: "Execute", id, request: kind }] };
};

/**
 * The transition function. `nowMs` is the connection's clock reading for this input; `outboxCongested` says
 * whether the connection's outbox is over its low watermark (then history, recover and direct history are
 * answered RATE_LIMITED instead of executed).
 */
export const step = (state: SessionState, input: Input, nowMs: number, limits: Limits, outboxCongested = false): Step => {
  if (state._tag === "Closing") return { state, actions: [] };
  switch (input._tag) {
    case "Frame":
      return onFrame(state, input.frame, nowMs, limits, outboxCongested);
    case "Malformed":
      return violation(state, limits, errorFrame(0, ErrorCode.MALFORMED_FRAME, "binary message is not a valid ClientFrame"));
    case "Text":
      return close(CloseCode.UNSUPPORTED_DATA);
    case "Authenticated":
      if (state._tag !== "AwaitingAuth") return { state, actions: [] };
      return {
        state: {
          _tag: "Ready",
          username: input.username,
          token: input.token,
          violations: state.violations,
          bucket: state.bucket,
          rateStrikes: 0,
        },
        actions: [],
      };
    case "AuthDeadline":
      return state._tag === "AwaitingAuth" ? close(CloseCode.AUTH_TIMEOUT) : { state, actions: [] };
    case "HeartbeatTimeout":
      return close(CloseCode.HEARTBEAT_TIMEOUT);
    case "SlowConsumer":
      return close(CloseCode.SLOW_CONSUMER);
    case "Shutdown":
      return close(CloseCode.GOING_AWAY);
    case "LoggedOut":
      return close(CloseCode.NORMAL);
    case "SessionRevoked":
      return close(CloseCode.SESSION_REVOKED);
  }
};
