// The machine's data and its shared vocabulary: the client state, the events step() takes, the effects it
// returns, the events the app hears, and the small transaction helpers every handler module uses.
import type { AuthOk } from "../../../proto/gen/es/chat/v1/auth_pb.js";
import type { DirectMessage } from "../../../proto/gen/es/chat/v1/direct_pb.js";
import type { ChatMessage } from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { PresenceEvent, TypingEvent, UserPresenceEvent } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import type { BackoffOptions } from "./backoff.ts";
import { attemptOf, type Connection, type ConnectionState, noSession, publicState, type Session } from "./connection.ts";
import { noOnline, type Online, type Send } from "./direct.ts";
import type { ChatError } from "./errors.ts";
import * as Req from "./requests.ts";
import type { RoomState } from "./rooms.ts";

export interface ChatEvents {
  /**
   * Every state change (`previous` → `state`; "connecting" follows "connecting" for each new attempt); while
   * reconnecting, `nextRetryMs` says when the next attempt starts.
   */
  state: { state: ConnectionState; previous: ConnectionState; attempt: number; nextRetryMs?: number; closeCode?: number; reason?: string };
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
  | {
      readonly _tag: "Send";
      readonly ticket: number;
      readonly kind: Req.ClientKind;
      readonly expect: "sendAck" | "directAck";
      readonly text: string;
    }
  | { readonly _tag: "Leave"; readonly ticket: number; readonly code: string }
  | { readonly _tag: "Typing"; readonly code: string; readonly typing: boolean }
  /** close() / the end of logout(): stop, forget the rooms, and (logout) the token. */
  | { readonly _tag: "Close"; readonly forgetToken: boolean; readonly error: ChatError }
  | { readonly _tag: "SocketOpened"; readonly socket: number }
  | { readonly _tag: "SocketMessage"; readonly socket: number; readonly data: Uint8Array }
  | { readonly _tag: "SocketClosed"; readonly socket: number; readonly code: number; readonly reason: string }
  /** The WebSocket constructor threw. */
  | { readonly _tag: "SocketFailed"; readonly socket: number; readonly error: unknown }
  | { readonly _tag: "Timer"; readonly timer: string }
  /** retryNow(): skip the rest of the backoff wait. */
  | { readonly _tag: "RetryNow" }
  /** The page became visible or hidden (ctx.visible says which): a visible page waits at most the visible cap. */
  | { readonly _tag: "VisibilityChanged" };

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

/**
 * The clock reading, one random draw in [0, 1) for this step (jitter), and whether a page shows the client
 * (`document.visibilityState`; absent in Node = not visible), so step stays a pure function.
 */
export interface Ctx {
  readonly now: number;
  readonly random: number;
  readonly visible?: boolean;
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

/** A step builds its result in a local transaction: `s` is replaced (never mutated), effects are appended. */
export interface Tx {
  s: ClientState;
  readonly fx: Effect[];
  readonly ctx: Ctx;
}

export const put = (t: Tx, patch: Partial<ClientState>): void => {
  t.s = { ...t.s, ...patch };
};
export const emit = <K extends keyof ChatEvents>(t: Tx, name: K, payload: ChatEvents[K]): void => {
  t.fx.push({ _tag: "Emit", event: { name, payload } as Emitted });
};
export const resolve = (t: Tx, ticket: number | undefined, value: unknown): void => {
  if (ticket !== undefined) t.fx.push({ _tag: "Resolve", ticket, value });
};
export const reject = (t: Tx, ticket: number | undefined, error: ChatError): void => {
  if (ticket !== undefined) t.fx.push({ _tag: "Reject", ticket, error });
};
export const setTimer = (t: Tx, timer: string, ms: number): void => void t.fx.push({ _tag: "SetTimer", timer, ms });
export const clearTimer = (t: Tx, timer: string): void => void t.fx.push({ _tag: "ClearTimer", timer });
export const emitState = (
  t: Tx,
  previous: ConnectionState,
  extra: { nextRetryMs?: number; closeCode?: number; reason?: string } = {},
): void => emit(t, "state", { state: publicState(t.s.conn), previous, attempt: attemptOf(t.s.conn), ...extra });
export const setRoom = (t: Tx, room: RoomState): void => put(t, { rooms: new Map(t.s.rooms).set(room.code, room) });
export const dropRoom = (t: Tx, code: string): void => {
  const rooms = new Map(t.s.rooms);
  const resyncs = new Map(t.s.resyncs);
  rooms.delete(code);
  resyncs.delete(code);
  put(t, { rooms, resyncs });
};
