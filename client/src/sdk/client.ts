// ChatClient: the headless chat.v1 client for browsers and Node. It owns the socket, the connection state
// machine (disconnected → connecting → connected, where connected means authenticated), the heartbeat,
// reconnects with backoff and session resume, per-room subscriptions with recovery, and sends that are
// retried with the same client message id until the server acknowledges them.
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { AuthOk } from "../../../proto/gen/es/chat/v1/auth_pb.js";
import type { DirectAck, DirectHistoryPage, DirectMessage } from "../../../proto/gen/es/chat/v1/direct_pb.js";
import { ClientFrameSchema, type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import {
  type ChatMessage,
  HistoryDirection,
  type HistoryPage,
  type RecoverResult,
  RecoverResultSchema,
  type SendAck,
} from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { PresenceEvent, TypingEvent, UserPresenceEvent } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { UserPresenceEventSchema } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import type { RoomJoined, RoomSummary } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { backoffDelay, closePolicy } from "./backoff.ts";
import { ChatError, describeClose } from "./errors.ts";
import { newMessageId } from "./ids.ts";
import { RoomSubscription } from "./room.ts";

export type ConnectionState = "disconnected" | "connecting" | "connected";

export interface ChatClientOptions {
  /** The server's WebSocket endpoint, e.g. ws://localhost:8080/ws. */
  url: string;
  /** The WebSocket class to use (default globalThis.WebSocket). Anything with the browser API works. */
  WebSocket?: typeof globalThis.WebSocket;
  /** Reconnect policy: exponential backoff with full jitter from initialMs (500) up to maxMs (15000). */
  reconnect?: { initialMs?: number; maxMs?: number; enabled?: boolean };
  /** Random source for the jitter, in [0, 1) (default Math.random). */
  random?: () => number;
  /** How long a request may wait for its reply, including time spent reconnecting (default 10000). */
  requestTimeoutMs?: number;
  /**
   * Client-side pacing of outgoing frames, kept under the server's per-connection rate limit so a resync
   * of many rooms after a reconnect is not refused (default 15 frames/s, burst 30; pings are not paced).
   */
  rateLimit?: { perSec?: number; burst?: number };
}

export interface PendingSend {
  clientMessageId: string;
  acked: Promise<SendAck>;
}

export interface PendingDirect {
  clientMessageId: string;
  acked: Promise<DirectAck>;
}

export interface HistoryOptions {
  /** Exclusive anchor: 0 (default) means the newest for backward, the first for forward. */
  anchorSeq?: bigint;
  direction?: "backward" | "forward";
  /** 1-200; 0 or unset means the server's default (50). */
  limit?: number;
}

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
  /** A socket ended; `willReconnect` says whether the client will try again by itself. */
  closed: { code: number; reason: string; willReconnect: boolean };
}

type ClientKind = NonNullable<MessageInitShape<typeof ClientFrameSchema>["kind"]>;
type ReplyCase = NonNullable<ServerFrame["kind"]["case"]>;
type Replies = { [K in ReplyCase]: Extract<ServerFrame["kind"], { case: K }>["value"] };
type ReplyOf<C extends ReplyCase> = Replies[C];

interface CallOptions<T> {
  /** Safe to send again after the connection dropped with the request unanswered. */
  idempotent: boolean;
  /** Part of the SDK's own resync: never queued, dropped with its connection. */
  internal?: boolean;
  /** May be sent before authentication (register/login/resume). */
  beforeAuth?: boolean;
  /** Reject after this long (0 = never). */
  timeoutMs?: number;
  /** Runs synchronously when the reply arrives, before any later frame is handled. */
  onSuccess?: (value: T) => void;
}

interface Call {
  readonly order: number;
  readonly kind: ClientKind;
  readonly expect: ReplyCase;
  readonly idempotent: boolean;
  readonly internal: boolean;
  readonly beforeAuth: boolean;
  id: number;
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  settle(frame: ServerFrame["kind"]): void;
  fail(e: ChatError): void;
}

interface Defaults {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly enabled: boolean;
  readonly requestTimeoutMs: number;
  readonly perSec: number;
  readonly burst: number;
}

const OPEN = 1;
const MAX_TEXT_BYTES = 4096;
const utf8 = new TextEncoder();

const normalizeCode = (code: string): string => code.trim().toUpperCase();

/** The paging fields shared by room and direct history requests (anchor 0 = newest, limit 0 = server default). */
const pageRequest = (opts: HistoryOptions) => ({
  anchorSeq: opts.anchorSeq ?? 0n,
  direction: opts.direction === "forward" ? HistoryDirection.FORWARD : HistoryDirection.BACKWARD,
  limit: opts.limit ?? 0,
});


const replyError = (e: { code: ErrorCode; message: string; retryAfterMs: number }, what: string): ChatError =>
  new ChatError(`${what} failed: ${ErrorCode[e.code] ?? e.code}${e.message ? ` (${e.message})` : ""}`, {
    code: e.code,
    retryAfterMs: e.retryAfterMs,
  });

/** Errors worth trying again with the same client message id, after a pause. */
const retryableSendError = (e: ChatError): boolean =>
  e.code === ErrorCode.RATE_LIMITED ||
  e.code === ErrorCode.UNAVAILABLE ||
  e.code === ErrorCode.INTERNAL ||
  e.code === ErrorCode.UNSPECIFIED;

export class ChatClient {
  private readonly url: string;
  private readonly WS: typeof globalThis.WebSocket;
  private readonly random: () => number;
  private readonly cfg: Defaults;

  private stateValue: ConnectionState = "disconnected";
  private usernameValue: string | undefined;
  private tokenValue: string | undefined;

  // The socket and what belongs to it. `epoch` changes with every socket so late continuations can tell.
  private ws: WebSocket | undefined;
  private epoch = 0;
  private socketAuthed = false;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private awaitingPong = false;
  private missedPongs = 0;
  private pingIds = new Set<number>();
  private nonce = 0n;

  // Session: kept across reconnects. `sessionAlive` means "keep (re)connecting with the token".
  private sessionAlive = false;
  private authInFlight = false;
  private attempt = 0;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private reauthStrikes = 0;
  private rateLimitStrikes = 0;

  // Requests.
  private nextId = 1;
  private nextOrder = 0;
  private readonly outstanding = new Map<number, Call>();
  private waiting: Call[] = [];
  private readonly sendRetries = new Set<{ timer: ReturnType<typeof setTimeout>; fail: (e: ChatError) => void }>();

  // Outgoing pacing (token bucket), per socket.
  private outQueue: Array<{ bytes: Uint8Array<ArrayBuffer>; call: Call | undefined }> = [];
  private tokens: number;
  private lastRefill = Date.now();
  private pumpTimer: ReturnType<typeof setTimeout> | undefined;

  // Subscriptions.
  private readonly roomSubs = new Map<string, RoomSubscription>();
  private onlineSubscribed = false;
  private online = new Set<string>();

  private readonly listeners = new Map<keyof ChatEvents, Set<(e: never) => void>>();

  constructor(options: ChatClientOptions) {
    const WS = options.WebSocket ?? globalThis.WebSocket;
    if (typeof WS !== "function") throw new TypeError("ChatClient: no WebSocket implementation; pass options.WebSocket");
    this.url = options.url;
    this.WS = WS;
    this.random = options.random ?? Math.random;
    this.cfg = {
      initialMs: options.reconnect?.initialMs ?? 500,
      maxMs: options.reconnect?.maxMs ?? 15_000,
      enabled: options.reconnect?.enabled ?? true,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      perSec: options.rateLimit?.perSec ?? 15,
      burst: options.rateLimit?.burst ?? 30,
    };
    this.tokens = this.cfg.burst;
  }

  // ---------------------------------------------------------------- public state

  get state(): ConnectionState {
    return this.stateValue;
  }

  get username(): string | undefined {
    return this.usernameValue;
  }

  get token(): string | undefined {
    return this.tokenValue;
  }

  /** Codes of the subscribed rooms, in the order they were joined. */
  rooms(): string[] {
    return [...this.roomSubs.keys()];
  }

  /** The last join reply for a subscribed room. */
  room(code: string): RoomJoined | undefined {
    return this.roomSubs.get(normalizeCode(code))?.joined;
  }

  /** Current member usernames of a subscribed room, sorted. */
  members(code: string): string[] {
    return this.roomSubs.get(normalizeCode(code))?.members() ?? [];
  }

  /** Current member count of a subscribed room (join snapshot, then presence events). */
  memberCount(code: string): number {
    return this.roomSubs.get(normalizeCode(code))?.memberCount ?? 0;
  }

  /** The highest seq of the room delivered in order (0 for an unknown room). */
  lastSeq(code: string): bigint {
    return this.roomSubs.get(normalizeCode(code))?.lastSeq ?? 0n;
  }

  /** Users online, as last reported by onlineUsers() and userPresence events (sorted). */
  onlineSnapshot(): string[] {
    return [...this.online].sort();
  }

  on<K extends keyof ChatEvents>(event: K, listener: (e: ChatEvents[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    const l = listener as (e: never) => void;
    set.add(l);
    return () => {
      set.delete(l);
    };
  }

  // ---------------------------------------------------------------- auth

  /** Creates an account and authenticates. Opens the socket if needed. */
  register(username: string, password: string): Promise<AuthOk> {
    return this.authenticate({ case: "register", value: { username, password } });
  }

  login(username: string, password: string): Promise<AuthOk> {
    return this.authenticate({ case: "login", value: { username, password } });
  }

  /** Authenticates with a session token from an earlier AuthOk (e.g. stored by the app). */
  resume(token: string): Promise<AuthOk> {
    return this.authenticate({ case: "resume", value: { sessionToken: token } });
  }

  /** Revokes the session on the server (when it can be reached), closes, and forgets the session. */
  async logout(): Promise<void> {
    if (this.sessionAlive || this.stateValue === "connected") {
      try {
        await this.call({ case: "logout", value: {} }, "ok", { idempotent: true });
      } catch {
        // Not reachable or already revoked: the session is dropped locally all the same.
      }
    }
    this.stop({ clearSession: true, forgetToken: true, error: new ChatError("logged out"), emitError: false });
  }

  /** Closes the connection without revoking the session and stops reconnecting. `token` stays readable. */
  close(): void {
    this.stop({ clearSession: true, forgetToken: false, error: new ChatError("the client was closed"), emitError: false });
  }

  // ---------------------------------------------------------------- rooms

  /** Creates a room; the creator is joined and subscribed. */
  createRoom(name: string, persistent = false): Promise<RoomJoined> {
    return this.call({ case: "createRoom", value: { name, persistent } }, "roomJoined", {
      idempotent: false,
      onSuccess: (joined) => this.subscribe(joined),
    });
  }

  /** Joins a room by code and subscribes: after every reconnect it is rejoined and its missed messages recovered. */
  joinRoom(code: string): Promise<RoomJoined> {
    return this.call({ case: "joinRoom", value: { code: normalizeCode(code) } }, "roomJoined", {
      idempotent: true,
      onSuccess: (joined) => this.subscribe(joined),
    });
  }

  /** Leaves a room and drops its subscription (at once, even while disconnected). */
  async leaveRoom(code: string): Promise<void> {
    const key = normalizeCode(code);
    this.roomSubs.delete(key);
    if (this.stateValue !== "connected") return; // the server forgot this connection's rooms when it dropped
    try {
      await this.call({ case: "leaveRoom", value: { code: key } }, "ok", { idempotent: true });
    } catch (e) {
      if (e instanceof ChatError && e.code === ErrorCode.NOT_MEMBER) return;
      throw e;
    }
  }

  /** Persistent rooms (up to 200, by name) with live member counts. */
  async listRooms(): Promise<RoomSummary[]> {
    const list = await this.call({ case: "listRooms", value: {} }, "roomList", { idempotent: true });
    return list.rooms;
  }

  // ---------------------------------------------------------------- messages

  /**
   * Sends a room message. The returned clientMessageId is also on the message's own push. The send is
   * retried across reconnects with the same id (the server stores it once); `acked` rejects only on an
   * error that retrying cannot fix (not a member, invalid text, the client closed, the session ended).
   */
  send(roomCode: string, text: string): PendingSend {
    const clientMessageId = newMessageId();
    const code = normalizeCode(roomCode);
    const acked = this.reliableSend<"sendAck">(
      { case: "sendMessage", value: { roomCode: code, clientMessageId, text } },
      "sendAck",
      text,
    );
    return { clientMessageId, acked };
  }

  history(roomCode: string, opts: HistoryOptions = {}): Promise<HistoryPage> {
    return this.call(
      {
        case: "history",
        value: {
          roomCode: normalizeCode(roomCode),
          ...pageRequest(opts),
        },
      },
      "historyPage",
      { idempotent: true },
    );
  }

  /** Tells the room's other members whether this user is typing. Repeat `true` every ~3 s while typing. */
  setTyping(roomCode: string, typing: boolean): void {
    if (this.stateValue !== "connected") return;
    this.call({ case: "typing", value: { roomCode: normalizeCode(roomCode), typing } }, "ok", {
      idempotent: false,
      internal: true,
      timeoutMs: 0,
    }).catch(() => {});
  }

  // ---------------------------------------------------------------- direct messages

  /** Who is online. With subscribe (default) userPresence events follow, also after reconnects. */
  onlineUsers(subscribe = true): Promise<string[]> {
    return this.call({ case: "onlineUsers", value: { subscribe } }, "onlineUsers", {
      idempotent: true,
      onSuccess: (users) => {
        this.onlineSubscribed = subscribe;
        this.online = new Set(users.usernames);
      },
    }).then((users) => users.usernames);
  }

  /** Sends a direct message; retried like send(). This client gets the ack, not a `direct` event. */
  sendDirect(username: string, text: string): PendingDirect {
    const clientMessageId = newMessageId();
    const acked = this.reliableSend<"directAck">(
      { case: "sendDirect", value: { recipient: username.trim(), clientMessageId, text } },
      "directAck",
      text,
    );
    return { clientMessageId, acked };
  }

  directHistory(peer: string, opts: HistoryOptions = {}): Promise<DirectHistoryPage> {
    return this.call(
      {
        case: "directHistory",
        value: {
          peer: peer.trim(),
          ...pageRequest(opts),
        },
      },
      "directHistoryPage",
      { idempotent: true },
    );
  }

  // ================================================================ internals: events

  private emit<K extends keyof ChatEvents>(event: K, payload: ChatEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of [...set]) {
      try {
        (l as (e: ChatEvents[K]) => void)(payload);
      } catch (e) {
        // A listener's bug must not break the client's state; surface it where the platform reports errors.
        const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
        if (report) report(e);
        else console.error("ChatClient: an event listener threw", e);
      }
    }
  }

  private setState(state: ConnectionState, extra: { nextRetryMs?: number; closeCode?: number; reason?: string } = {}): void {
    this.stateValue = state;
    this.emit("state", { state, attempt: this.attempt, ...extra });
  }

  // ================================================================ internals: auth and connection

  private async authenticate(kind: ClientKind): Promise<AuthOk> {
    if (this.stateValue === "connected") {
      throw new ChatError("already authenticated: log out or close first", { code: ErrorCode.ALREADY_AUTHENTICATED });
    }
    if (this.authInFlight) throw new ChatError("an authentication is already in progress");
    this.authInFlight = true;
    try {
      // An explicit auth replaces any automatic reconnect in progress.
      if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.sessionAlive = false;
      if (this.ws) this.detachSocket(1000, "replaced by a new authentication");
      this.attempt = 0;
      this.setState("connecting");
      await this.openSocket();
      return await this.call(kind, "authOk", {
        idempotent: false,
        beforeAuth: true,
        onSuccess: (ok) => this.onAuthenticated(ok),
      });
    } catch (e) {
      const err = e instanceof ChatError ? e : new ChatError(String(e), { cause: e });
      if (!this.socketAuthed) this.stop({ clearSession: false, forgetToken: false, error: err, emitError: false });
      throw err;
    } finally {
      this.authInFlight = false;
    }
  }

  /** Opens a socket; resolves when it is open, rejects if it closes first. */
  private openSocket(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new this.WS(this.url);
      } catch (e) {
        reject(new ChatError(`cannot open ${this.url}`, { cause: e }));
        return;
      }
      ws.binaryType = "arraybuffer";
      this.ws = ws;
      this.epoch++;
      this.socketAuthed = false;
      this.outQueue = [];
      this.tokens = this.cfg.burst;
      this.lastRefill = Date.now();
      let opened = false;
      ws.addEventListener("open", () => {
        if (this.ws !== ws) return;
        opened = true;
        resolve();
        this.pump();
      });
      ws.addEventListener("message", (ev: MessageEvent) => {
        if (this.ws !== ws) return;
        this.onData(ev.data);
      });
      ws.addEventListener("close", (ev: CloseEvent) => {
        if (this.ws !== ws) return;
        if (!opened) reject(new ChatError(`could not connect to the server (${ev.code})`, { closeCode: ev.code }));
        this.onSocketEnded(ev.code, ev.reason);
      });
      ws.addEventListener("error", () => {
        // A close event always follows; it carries the code.
      });
      // Not open and authenticated in time (a black-holed network, a server that never answers): give up on it.
      this.connectTimer = setTimeout(() => {
        if (this.ws !== ws || this.socketAuthed) return;
        if (!opened) reject(new ChatError("connecting timed out", { closeCode: 1006 }));
        this.dropSocket(1006, "connecting timed out");
      }, this.cfg.requestTimeoutMs);
    });
  }

  /** The automatic path: a new socket authenticated with the session token. */
  private reconnectNow(): void {
    this.retryTimer = undefined;
    const token = this.tokenValue;
    if (!this.sessionAlive || token === undefined) return;
    this.openSocket().then(
      () => {
        const epoch = this.epoch;
        this.call({ case: "resume", value: { sessionToken: token } }, "authOk", {
          idempotent: false,
          internal: true,
          beforeAuth: true,
          onSuccess: (ok) => this.onAuthenticated(ok),
        }).catch((e: unknown) => {
          if (epoch !== this.epoch || !this.ws) return; // the socket ended; its close handler decided
          if (e instanceof ChatError && e.code === ErrorCode.UNAUTHENTICATED) {
            this.stop({
              clearSession: false,
              forgetToken: true,
              error: new ChatError("the session expired or was revoked: log in again", { code: ErrorCode.UNAUTHENTICATED }),
              emitError: true,
            });
          } else {
            this.dropSocket(1006, "resume failed");
          }
        });
      },
      () => {
        // Could not connect: onSocketEnded has scheduled the next attempt, unless no socket could even be
        // created (the constructor threw); then schedule it here so the client does not stall in "connecting".
        if (this.sessionAlive && !this.ws && this.retryTimer === undefined) this.onSocketEnded(1006, "could not open a socket");
      },
    );
  }

  private onAuthenticated(ok: AuthOk): void {
    if (this.usernameValue !== undefined && this.usernameValue !== ok.username) {
      // Another user on this client: nothing of the previous session applies.
      this.roomSubs.clear();
      this.onlineSubscribed = false;
      this.online.clear();
      const err = new ChatError("another user logged in on this client");
      // fail() forgets the call, which splices this.waiting: iterate over a detached list.
      const waiting = this.waiting;
      this.waiting = [];
      for (const c of waiting) c.fail(err);
    }
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.socketAuthed = true;
    this.sessionAlive = this.cfg.enabled;
    this.usernameValue = ok.username;
    this.tokenValue = ok.sessionToken;
    this.attempt = 0;
    this.reauthStrikes = 0;
    this.startHeartbeat(ok.heartbeatIntervalMs);
    this.setState("connected");
    this.emit("authenticated", ok);
    // Resync in the order the server must see it: rejoin rooms, then presence, then everything queued
    // (resent messages after their room's join). The server handles one connection's frames in order.
    const epoch = this.epoch;
    for (const room of this.roomSubs.values()) this.resyncRoom(room, epoch);
    if (this.onlineSubscribed) this.resyncOnline(epoch);
    const queued = this.waiting.sort((a, b) => a.order - b.order);
    this.waiting = [];
    for (const c of queued) this.dispatch(c);
  }

  /** Rejoins a subscribed room on a new connection and recovers what was missed. */
  private resyncRoom(room: RoomSubscription, epoch: number): void {
    room.beginRecovery();
    this.call({ case: "joinRoom", value: { code: room.code } }, "roomJoined", {
      idempotent: false,
      internal: true,
      onSuccess: (joined) => {
        if (this.roomSubs.get(room.code) !== room) return;
        for (const p of room.rejoin(joined)) this.emit("presence", p);
        if (joined.lastSeq === room.lastSeq) {
          this.applyRecovery(room, create(RecoverResultSchema, { roomCode: room.code, recovered: true, lastSeq: joined.lastSeq }), epoch);
        } else {
          this.recoverRoom(room, epoch);
        }
      },
    }).catch((e: unknown) => this.resyncFailed(room, epoch, e, () => this.resyncRoom(room, epoch)));
  }

  private recoverRoom(room: RoomSubscription, epoch: number): void {
    room.beginRecovery();
    this.call({ case: "recover", value: { roomCode: room.code, afterSeq: room.lastSeq } }, "recoverResult", {
      idempotent: false,
      internal: true,
      onSuccess: (result) => {
        if (this.roomSubs.get(room.code) === room) this.applyRecovery(room, result, epoch);
      },
    }).catch((e: unknown) => this.resyncFailed(room, epoch, e, () => this.recoverRoom(room, epoch)));
  }

  private applyRecovery(room: RoomSubscription, result: RecoverResult, epoch: number): void {
    const out = room.finishRecovery(result);
    if (!out.recovered) this.emit("notRecovered", { roomCode: room.code, lastSeq: out.previousLastSeq });
    for (const m of out.deliver) this.emit("message", m);
    if (out.recovered) this.emit("recovered", { roomCode: room.code, count: out.recoveredCount });
    if (out.gap && epoch === this.epoch) this.recoverRoom(room, epoch);
  }

  private resyncFailed(room: RoomSubscription, epoch: number, e: unknown, retry: () => void): void {
    if (epoch !== this.epoch || !this.socketAuthed) return; // the next connection starts over
    if (this.roomSubs.get(room.code) !== room) return;
    const err = e instanceof ChatError ? e : new ChatError(String(e));
    if (err.code === undefined || retryableSendError(err)) {
      const delay = err.retryAfterMs ?? backoffDelay(1, this.cfg, this.random, true);
      setTimeout(() => {
        if (epoch === this.epoch && this.socketAuthed && this.roomSubs.get(room.code) === room) retry();
      }, delay);
      return;
    }
    // NOT_FOUND: the room was destroyed while we were away. Anything else: it cannot be rejoined either.
    this.roomSubs.delete(room.code);
    this.emit("error", new ChatError(`room ${room.code} could not be rejoined: ${err.message}`, { code: err.code, roomCode: room.code, cause: err }));
  }

  private resyncOnline(epoch: number): void {
    this.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers", {
      idempotent: false,
      internal: true,
      onSuccess: (users) => {
        if (!this.onlineSubscribed) return;
        const next = new Set(users.usernames);
        for (const u of this.online) if (!next.has(u)) this.emit("userPresence", create(UserPresenceEventSchema, { username: u, online: false }));
        for (const u of next) if (!this.online.has(u)) this.emit("userPresence", create(UserPresenceEventSchema, { username: u, online: true }));
        this.online = next;
      },
    }).catch(() => {
      if (epoch === this.epoch && this.socketAuthed) setTimeout(() => epoch === this.epoch && this.socketAuthed && this.onlineSubscribed && this.resyncOnline(epoch), 1000);
    });
  }

  private subscribe(joined: RoomJoined): void {
    const code = joined.room?.code;
    if (!code) return;
    const existing = this.roomSubs.get(code);
    if (existing) {
      for (const p of existing.rejoin(joined)) this.emit("presence", p);
    } else {
      this.roomSubs.set(code, new RoomSubscription(joined));
    }
  }

  // ---------------------------------------------------------------- heartbeat

  private startHeartbeat(intervalMs: number): void {
    this.stopHeartbeat();
    const interval = intervalMs > 0 ? intervalMs : 5000;
    this.heartbeatTimer = setInterval(() => this.heartbeatTick(), interval);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.awaitingPong = false;
    this.missedPongs = 0;
    this.pingIds.clear();
  }

  private heartbeatTick(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    if (this.awaitingPong) {
      this.missedPongs++;
      if (this.missedPongs >= 2) {
        this.dropSocket(4000, "no pong for two pings");
        return;
      }
    }
    const id = this.nextId++;
    this.pingIds.add(id);
    this.awaitingPong = true;
    this.nonce++;
    // Pings bypass the pacing queue: a backlog must not look like a dead connection.
    const ping = create(ClientFrameSchema, { id, kind: { case: "ping", value: { nonce: this.nonce, clientTimeMs: BigInt(Date.now()) } } });
    ws.send(toBinary(ClientFrameSchema, ping) as Uint8Array<ArrayBuffer>);
  }

  // ---------------------------------------------------------------- socket end

  /** Ends the current socket from this side and handles it as a lost connection (no waiting for a close handshake). */
  private dropSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.onSocketEnded(code, reason); // releases the socket first, so its own close event is ignored
    try {
      ws.close(code >= 3000 && code <= 4999 ? code : 4000, reason);
    } catch {
      // Already closing.
    }
  }

  /** Quietly closes the current socket (our own decision); its requests are requeued or rejected. */
  private detachSocket(code: number, reason: string): void {
    const ws = this.ws;
    if (!ws) return;
    this.releaseSocket(new ChatError(`connection closed: ${reason}`, { closeCode: code }));
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
    this.emit("closed", { code, reason, willReconnect: false });
  }

  /** Forgets the socket and everything tied to it; in-flight requests are requeued or failed with `err`. */
  private releaseSocket(err: ChatError): void {
    this.ws = undefined;
    this.epoch++;
    this.socketAuthed = false;
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    if (this.pumpTimer !== undefined) clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    this.outQueue = [];
    this.stopHeartbeat();
    const calls = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const c of calls) {
      c.id = 0;
      if (c.internal || c.beforeAuth) c.fail(err);
      else if (!c.sent || c.idempotent) {
        c.sent = false;
        this.waiting.push(c);
      } else c.fail(err);
    }
    // Rooms wait (buffering) until the next connection rejoins and recovers them.
    for (const room of this.roomSubs.values()) room.beginRecovery();
  }

  private onSocketEnded(code: number, reason: string): void {
    const wasAuthed = this.socketAuthed;
    this.releaseSocket(new ChatError(`connection lost before the reply (${code})`, { closeCode: code }));
    if (!this.sessionAlive) {
      // No session to keep (an explicit auth in progress or reconnecting disabled): its promise reports it.
      this.emit("closed", { code, reason, willReconnect: false });
      if (!this.authInFlight) {
        this.stop({ clearSession: false, forgetToken: false, error: new ChatError(describeClose(code), { closeCode: code }), emitError: wasAuthed, closeCode: code, reason });
      }
      return;
    }
    const policy = closePolicy(code);
    let willReconnect = false;
    let slow = false;
    if (policy === "reconnect") willReconnect = true;
    else if (policy === "reconnect-slow") {
      slow = true;
      // 4103 means "slow down": one automatic retry after a long pause, then stop (the contract says not
      // to loop on it). 4002 (busy) keeps retrying with the long backoff.
      if (code === 4103) willReconnect = ++this.rateLimitStrikes <= 1;
      else willReconnect = true;
    } else if (policy === "reauth-once") willReconnect = ++this.reauthStrikes <= 1;
    if (code !== 4103) this.rateLimitStrikes = 0;
    this.emit("closed", { code, reason, willReconnect });
    if (willReconnect) {
      const delay = backoffDelay(this.attempt, this.cfg, this.random, slow);
      this.attempt++;
      this.setState("connecting", { nextRetryMs: delay, closeCode: code, reason });
      this.retryTimer = setTimeout(() => this.reconnectNow(), delay);
      return;
    }
    this.stop({
      clearSession: false,
      forgetToken: policy === "stop-revoked",
      error: new ChatError(describeClose(code), { closeCode: code }),
      emitError: true,
      closeCode: code,
      reason,
    });
  }

  /** Terminal: no socket, no reconnect; everything waiting fails with `error`. */
  private stop(o: { clearSession: boolean; forgetToken: boolean; error: ChatError; emitError: boolean; closeCode?: number; reason?: string }): void {
    this.sessionAlive = false;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.ws) this.detachSocket(1000, "closed by the client");
    const waiting = this.waiting;
    this.waiting = [];
    for (const c of waiting) c.fail(o.error);
    for (const r of this.sendRetries) {
      clearTimeout(r.timer);
      r.fail(o.error);
    }
    this.sendRetries.clear();
    if (o.forgetToken) this.tokenValue = undefined;
    if (o.clearSession) {
      this.roomSubs.clear();
      this.onlineSubscribed = false;
      this.online.clear();
      if (o.forgetToken) this.usernameValue = undefined;
    }
    if (o.emitError) this.emit("error", o.error);
    const changed = this.stateValue !== "disconnected";
    this.attempt = 0;
    if (changed) {
      const extra: { closeCode?: number; reason?: string } = {};
      if (o.closeCode !== undefined) extra.closeCode = o.closeCode;
      if (o.reason !== undefined) extra.reason = o.reason;
      this.setState("disconnected", extra);
    }
  }

  // ================================================================ internals: requests

  private call<C extends ReplyCase>(kind: ClientKind, expect: C, opts: CallOptions<ReplyOf<C>>): Promise<ReplyOf<C>> {
    return new Promise<ReplyOf<C>>((resolve, reject) => {
      const what = kind.case ?? "request";
      const call: Call = {
        order: this.nextOrder++,
        kind,
        expect,
        idempotent: opts.idempotent,
        internal: opts.internal ?? false,
        beforeAuth: opts.beforeAuth ?? false,
        id: 0,
        sent: false,
        timer: undefined,
        settle: (frame) => {
          this.forget(call);
          if (frame.case === "error") reject(replyError(frame.value, what));
          else if (frame.case === expect) {
            const value = frame.value as ReplyOf<C>;
            try {
              opts.onSuccess?.(value);
            } finally {
              resolve(value);
            }
          } else reject(new ChatError(`${what}: unexpected reply ${frame.case ?? "(none)"}`));
        },
        fail: (e) => {
          this.forget(call);
          reject(e);
        },
      };
      const timeoutMs = opts.timeoutMs ?? this.cfg.requestTimeoutMs;
      if (timeoutMs > 0) {
        call.timer = setTimeout(() => call.fail(new ChatError(`${what}: no reply within ${timeoutMs} ms`)), timeoutMs);
      }
      const ready = call.beforeAuth ? this.ws !== undefined : this.socketAuthed;
      if (ready) this.dispatch(call);
      else if (!call.internal && (this.sessionAlive || this.authInFlight)) this.waiting.push(call);
      else call.fail(new ChatError(`${what}: not connected`));
    });
  }

  private forget(call: Call): void {
    if (call.timer !== undefined) clearTimeout(call.timer);
    call.timer = undefined;
    if (call.id !== 0 && this.outstanding.get(call.id) === call) this.outstanding.delete(call.id);
    const i = this.waiting.indexOf(call);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  private dispatch(call: Call): void {
    call.id = this.nextId++;
    if (this.nextId > 0xffff_fff0) this.nextId = 1;
    this.outstanding.set(call.id, call);
    const bytes = toBinary(ClientFrameSchema, create(ClientFrameSchema, { id: call.id, kind: call.kind })) as Uint8Array<ArrayBuffer>;
    this.outQueue.push({ bytes, call });
    this.pump();
  }

  /** Writes queued frames as the token bucket allows. */
  private pump(): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    const now = Date.now();
    this.tokens = Math.min(this.cfg.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.cfg.perSec);
    this.lastRefill = now;
    while (this.outQueue.length > 0 && this.tokens >= 1) {
      const next = this.outQueue.shift()!;
      this.tokens -= 1;
      ws.send(next.bytes);
      if (next.call) next.call.sent = true;
    }
    if (this.outQueue.length > 0 && this.pumpTimer === undefined) {
      const wait = Math.ceil(((1 - this.tokens) / this.cfg.perSec) * 1000);
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, Math.max(1, wait));
    }
  }

  /** A send that survives reconnects: same client message id every time, retried on transient errors. */
  private reliableSend<C extends "sendAck" | "directAck">(kind: ClientKind, expect: C, text: string): Promise<ReplyOf<C>> {
    const acked = new Promise<ReplyOf<C>>((resolve, reject) => {
      const bytes = utf8.encode(text).length;
      if (bytes === 0 || bytes > MAX_TEXT_BYTES) {
        reject(new ChatError(`text must be 1-${MAX_TEXT_BYTES} bytes of UTF-8, got ${bytes}`, { code: ErrorCode.INVALID_ARGUMENT }));
        return;
      }
      let failures = 0;
      const attempt = () => {
        this.call(kind, expect, { idempotent: true, timeoutMs: 0 }).then(resolve, (e: unknown) => {
          const err = e instanceof ChatError ? e : new ChatError(String(e));
          if (!retryableSendError(err) || !(this.sessionAlive || this.socketAuthed)) {
            reject(err);
            return;
          }
          const delay = err.retryAfterMs ?? backoffDelay(failures++, this.cfg, this.random);
          const entry = {
            timer: setTimeout(() => {
              this.sendRetries.delete(entry);
              attempt();
            }, delay),
            fail: (x: ChatError) => reject(x),
          };
          this.sendRetries.add(entry);
        });
      };
      attempt();
    });
    // Callers who ignore the outcome must not produce an unhandled rejection; awaiting it still sees it.
    acked.catch(() => {});
    return acked;
  }

  // ================================================================ internals: incoming frames

  private onData(data: unknown): void {
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return; // the server sends binary frames only
    let frame: ServerFrame;
    try {
      frame = fromBinary(ServerFrameSchema, bytes);
    } catch {
      return; // undecodable: nothing to match it to
    }
    const kind = frame.kind;
    if (frame.id !== 0) {
      if (kind.case === "pong" && this.pingIds.delete(frame.id)) {
        this.awaitingPong = false;
        this.missedPongs = 0;
        return;
      }
      this.outstanding.get(frame.id)?.settle(kind);
      return;
    }
    switch (kind.case) {
      case "message": {
        const room = this.roomSubs.get(kind.value.roomCode);
        if (!room) return;
        const r = room.push(kind.value);
        for (const m of r.deliver) this.emit("message", m);
        if (r.gap && this.socketAuthed) this.recoverRoom(room, this.epoch);
        return;
      }
      case "presence": {
        const room = this.roomSubs.get(kind.value.roomCode);
        if (!room) return;
        room.applyPresence(kind.value);
        this.emit("presence", kind.value);
        return;
      }
      case "typing":
        if (this.roomSubs.has(kind.value.roomCode)) this.emit("typing", kind.value);
        return;
      case "directMessage":
        this.emit("direct", kind.value);
        return;
      case "userPresence":
        if (kind.value.online) this.online.add(kind.value.username);
        else this.online.delete(kind.value.username);
        this.emit("userPresence", kind.value);
        return;
      case "error":
        // An error with id 0 answers a frame the server could not attribute: a client bug.
        this.emit("error", replyError(kind.value, "a frame"));
        return;
      default:
        return; // auth_ok push (token at upgrade, unused here) or a push kind newer than this client
    }
  }
}
