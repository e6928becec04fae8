// The connection's lifecycle as pure data: one tagged state per phase (idle, waiting to reconnect, opening a
// socket, authenticating on it, ready), the session kept across sockets, the close-code decision that says
// whether a lost socket is retried, and the heartbeat's missed-pong rule. machine.ts composes it with the
// request table, the rooms and the sends.
import type { AuthOk } from "../../../proto/gen/es/chat/v1/auth_pb.js";
import { CloseCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { closePolicy } from "./backoff.ts";
import type { ClientKind } from "./requests.ts";

/** The public three-value view of the connection: `connected` means authenticated. */
export type ConnectionState = "disconnected" | "connecting" | "connected";

/** Who asked for the authentication on a socket. */
export type AuthIntent =
  /** register / login / resume called by the app: its promise (`ticket`) gets the outcome; a failure stops. */
  | { readonly _tag: "Explicit"; readonly ticket: number; readonly kind: ClientKind }
  /** The automatic reconnect, with the session's token. */
  | { readonly _tag: "Resume"; readonly token: string };

export interface Heartbeat {
  readonly intervalMs: number;
  /** Frame ids of the Pings not yet answered on this socket. */
  readonly unanswered: ReadonlyArray<number>;
  /** Ticks in a row that found a Ping unanswered. */
  readonly missed: number;
  readonly nonce: bigint;
}

export type Connection =
  /** No socket and no reconnect: `disconnected`. */
  | { readonly _tag: "Idle" }
  /** Waiting for the "retry" timer (due at `retryAtMs`) before reconnect attempt `attempt`. */
  | { readonly _tag: "Backoff"; readonly attempt: number; readonly retryAtMs: number; readonly slow: boolean }
  /** Socket `socket` is being opened. */
  | { readonly _tag: "Opening"; readonly socket: number; readonly attempt: number; readonly auth: AuthIntent }
  /** The socket is open and the auth frame `frameId` was sent. */
  | {
      readonly _tag: "Authenticating";
      readonly socket: number;
      readonly attempt: number;
      readonly auth: AuthIntent;
      readonly frameId: number;
    }
  /** Authenticated: requests flow, Pings keep the socket honest. */
  | { readonly _tag: "Ready"; readonly socket: number; readonly heartbeat: Heartbeat };

/** What the server told this client about its session, with the contract's defaults for values it left at 0. */
export interface SessionInfo {
  readonly username: string;
  /** Secret: store it like a password. */
  readonly token: string;
  /** Unix time in milliseconds after which the token is no longer accepted (0 = not said). */
  readonly expiresAtMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly maxFrameBytes: number;
  /** How long an empty temporary room survives before it is destroyed: rejoin within it to keep the room. */
  readonly roomGraceMs: number;
  /** How long a typing indicator lasts without a refresh: repeat setTyping(code, true) before it runs out. */
  readonly typingTtlMs: number;
}

/** The contract's defaults (proto/chat/v1/auth.proto), used when a server leaves a field at 0. */
export const SESSION_DEFAULTS = {
  heartbeatIntervalMs: 5000,
  heartbeatTimeoutMs: 11_000,
  maxFrameBytes: 65_536,
  roomGraceMs: 30_000,
  typingTtlMs: 5000,
} as const;

export const sessionInfo = (ok: AuthOk): SessionInfo => {
  const or = (value: number, fallback: number) => (value > 0 ? value : fallback);
  return {
    username: ok.username,
    token: ok.sessionToken,
    expiresAtMs: Number(ok.sessionExpiresAtMs),
    heartbeatIntervalMs: or(ok.heartbeatIntervalMs, SESSION_DEFAULTS.heartbeatIntervalMs),
    heartbeatTimeoutMs: or(ok.heartbeatTimeoutMs, SESSION_DEFAULTS.heartbeatTimeoutMs),
    maxFrameBytes: or(ok.maxFrameBytes, SESSION_DEFAULTS.maxFrameBytes),
    roomGraceMs: or(ok.roomGraceMs, SESSION_DEFAULTS.roomGraceMs),
    typingTtlMs: or(ok.typingTtlMs, SESSION_DEFAULTS.typingTtlMs),
  };
};

/** Kept across sockets until the app logs out (or the token is revoked). */
export interface Session {
  readonly username: string | undefined;
  readonly token: string | undefined;
  readonly info: SessionInfo | undefined;
  /** 4100/4101 closes in a row: the second stops. Reset by a successful auth. */
  readonly reauthStrikes: number;
  /** 4103 closes in a row: the second stops. Reset by any other close. */
  readonly rateStrikes: number;
}

export const noSession: Session = { username: undefined, token: undefined, info: undefined, reauthStrikes: 0, rateStrikes: 0 };

export const publicState = (conn: Connection): ConnectionState =>
  conn._tag === "Idle" ? "disconnected" : conn._tag === "Ready" ? "connected" : "connecting";

export const socketOf = (conn: Connection): number | undefined => ("socket" in conn ? conn.socket : undefined);

export const attemptOf = (conn: Connection): number => ("attempt" in conn ? conn.attempt : 0);

/** The explicit authentication in progress, if any. */
export const explicitAuth = (conn: Connection): Extract<AuthIntent, { _tag: "Explicit" }> | undefined =>
  "auth" in conn && conn.auth._tag === "Explicit" ? conn.auth : undefined;

export interface LossDecision {
  readonly willReconnect: boolean;
  /** Busy or rate limited: the longer backoff. */
  readonly slow: boolean;
  /** The session is gone for good (revoked): forget the token. */
  readonly forgetToken: boolean;
  readonly session: Session;
}

/**
 * What a socket that ended with `code` leads to, for a session that is kept (closePolicy in backoff.ts).
 * 4103 means "slow down": one automatic retry after a long pause, then stop (the contract says not to loop
 * on it); 4002 (busy) keeps retrying with the long backoff; 4100/4101 get one more try.
 */
export const lossDecision = (session: Session, code: number): LossDecision => {
  const policy = closePolicy(code);
  let { reauthStrikes, rateStrikes } = session;
  let willReconnect = false;
  let slow = false;
  if (policy === "reconnect") willReconnect = true;
  else if (policy === "reconnect-slow") {
    slow = true;
    willReconnect = code === CloseCode.RATE_LIMITED ? ++rateStrikes <= 1 : true;
  } else if (policy === "reauth-once") willReconnect = ++reauthStrikes <= 1;
  if (code !== CloseCode.RATE_LIMITED) rateStrikes = 0;
  return { willReconnect, slow, forgetToken: policy === "stop-revoked", session: { ...session, reauthStrikes, rateStrikes } };
};

export const startHeartbeat = (intervalMs: number): Heartbeat => ({ intervalMs, unanswered: [], missed: 0, nonce: 0n });

/**
 * One heartbeat tick: a Ping goes out unless two ticks in a row found one unanswered, which gives the socket up
 * (about three intervals after the last Pong).
 */
export const heartbeatTick = (hb: Heartbeat, pingId: number): { heartbeat: Heartbeat; ping: boolean } => {
  const missed = hb.unanswered.length > 0 ? hb.missed + 1 : hb.missed;
  if (missed >= 2) return { heartbeat: { ...hb, missed }, ping: false };
  return { heartbeat: { ...hb, missed, unanswered: [...hb.unanswered, pingId], nonce: hb.nonce + 1n }, ping: true };
};

/** A Pong for one of this socket's Pings: the connection is alive. */
export const pongReceived = (hb: Heartbeat, id: number): Heartbeat | undefined =>
  hb.unanswered.includes(id) ? { ...hb, unanswered: [], missed: 0 } : undefined;
