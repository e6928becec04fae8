// ChatClient: the headless chat.v1 client for browsers and Node. This class is the impure shell around the
// pure core (machine.ts): it owns the WebSockets, the timers, the promises and the listeners, feeds every
// socket, timer and API event to `step`, and performs the effects it returns, in order. Effects of an event
// raised by a listener (say, login() inside a `closed` handler) run after those of the event being reported.
// Over 400 lines: one public method per protocol request (rooms, messages, actions, DMs, files), each a thin
// call into the machine; the file calls (upload/download over HTTP) are the next to move out.
import type { AuthOk } from "../../../proto/gen/es/chat/v1/auth_pb.js";
import type { DirectAck, DirectHistoryPage } from "../../../proto/gen/es/chat/v1/direct_pb.js";
import { HistoryDirection, type HistoryPage, type SendAck } from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { RoomJoined, RoomSummary } from "../../../proto/gen/es/chat/v1/room_pb.js";
import { type ConnectionState, publicState, type SessionInfo } from "./connection.ts";
import { isSingleEmoji, type MessageView, reactedBy } from "./actions.ts";
import { VISIBLE_MAX_MS } from "./backoff.ts";
import { ChatError } from "./errors.ts";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { newMessageId } from "./ids.ts";
import { PageVisibility } from "./page-visibility.ts";
import { type AppRequest, type ChatEvents, type ClientState, type Effect, type Event, initialState, step } from "./machine.ts";
import type { ClientKind, ReplyCase } from "./requests.ts";

import {
  type AbortSignalLike,
  type BlobLike,
  type DownloadedBlob,
  downloadFile,
  FileError,
  httpBase,
  type UploadedFile,
  uploadFile,
  type UploadOptions,
} from "./files.ts";
export type { ChatEvents } from "./machine.ts";
export type { ConnectionState, SessionInfo } from "./connection.ts";

/** The part of the WebSocket API the client uses: the browser's, Node's global one and `ws` all fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  // The event is `any` so that the DOM's, Node's and ws's overloaded signatures all fit.
  // biome-ignore lint/suspicious/noExplicitAny: see above
  addEventListener(type: "open" | "message" | "close" | "error", listener: (event: any) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface ChatClientOptions {
  /** The server's WebSocket endpoint, e.g. ws://localhost:8080/ws. */
  url: string;
  /** The WebSocket class to use (default globalThis.WebSocket). Anything with the browser API works. */
  WebSocket?: WebSocketConstructor;
  /**
   * Reconnect policy: exponential backoff with full jitter from initialMs (500) up to maxMs (15000); while a
   * page shows the client (`document.visibilityState` is "visible") the cap is visibleMaxMs (4000).
   */
  reconnect?: { initialMs?: number; maxMs?: number; visibleMaxMs?: number; enabled?: boolean };
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

/** Where a message is: a joined room, or the direct conversation with a user. */
export type Conversation = { readonly room: string } | { readonly peer: string };

/** An edit, delete or reaction on its way: retried with the same id until acked (the server applies it once). */
export interface PendingAction {
  clientMessageId: string;
  /** The ack of the action event: SendAck in a room, DirectAck in a direct conversation. */
  acked: Promise<SendAck | DirectAck>;
}

/** Options of send() and sendDirect(). */
export interface SendOptions {
  /** Reply to the plain message with this seq in the same room or conversation. */
  replyTo?: bigint;
  /** Ids of uploads (uploadFile()) to attach, at most 10; the text may then be empty. */
  attachments?: ReadonlyArray<string>;
}

export interface HistoryOptions {
  /** Exclusive anchor: 0 (default) means the newest for backward, the first for forward. */
  anchorSeq?: bigint;
  direction?: "backward" | "forward";
  /** 1-200; 0 or unset means the server's default (50). */
  limit?: number;
}

const OPEN = 1;

const normalizeCode = (code: string): string => code.trim().toUpperCase();

/** The paging fields shared by room and direct history requests (anchor 0 = newest, limit 0 = server default). */
const pageRequest = (opts: HistoryOptions) => ({
  anchorSeq: opts.anchorSeq ?? 0n,
  direction: opts.direction === "forward" ? HistoryDirection.FORWARD : HistoryDirection.BACKWARD,
  limit: opts.limit ?? 0,
});

type Listener = (payload: never) => void;
type Timer = ReturnType<typeof setTimeout>;

export class ChatClient {
  readonly #url: string;
  readonly #WS: WebSocketConstructor;
  readonly #random: () => number;
  #state: ClientState;
  readonly #sockets = new Map<number, WebSocketLike>();
  readonly #timers = new Map<string, Timer>();
  readonly #tickets = new Map<number, { resolve: (v: never) => void; reject: (e: ChatError) => void }>();
  #nextTicket = 1;
  readonly #queue: Effect[] = [];
  #running = false;
  readonly #listeners = new Map<keyof ChatEvents, Set<Listener>>();
  /** A page coming into view shortens a long wait drawn while it was hidden. */
  readonly #page = new PageVisibility(() => this.#dispatch({ _tag: "VisibilityChanged" }));

  constructor(options: ChatClientOptions) {
    const WS = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof WS !== "function") throw new TypeError("ChatClient: no WebSocket implementation; pass options.WebSocket");
    this.#url = options.url;
    this.#WS = WS;
    this.#random = options.random ?? Math.random;
    this.#state = initialState(
      {
        backoff: {
          initialMs: options.reconnect?.initialMs ?? 500,
          maxMs: options.reconnect?.maxMs ?? 15_000,
          visibleMaxMs: options.reconnect?.visibleMaxMs ?? VISIBLE_MAX_MS,
        },
        reconnect: options.reconnect?.enabled ?? true,
        requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
        pacing: { perSec: options.rateLimit?.perSec ?? 15, burst: options.rateLimit?.burst ?? 30 },
      },
      Date.now(),
    );
  }

  // ---------------------------------------------------------------- public state

  get state(): ConnectionState {
    return publicState(this.#state.conn);
  }

  get username(): string | undefined {
    return this.#state.session.username;
  }

  get token(): string | undefined {
    return this.#state.session.token;
  }

  /**
   * What the server said about the session at the last authentication (heartbeat, room grace, typing TTL,
   * with the contract's defaults for values it left out); undefined before the first and after logout.
   */
  get session(): SessionInfo | undefined {
    return this.#state.session.info;
  }

  /** Codes of the subscribed rooms, in the order they were joined. */
  rooms(): string[] {
    return [...this.#state.rooms.keys()];
  }

  /** The last join reply for a subscribed room. */
  room(code: string): RoomJoined | undefined {
    return this.#state.rooms.get(normalizeCode(code))?.joined;
  }

  /** Current member usernames of a subscribed room, sorted. */
  members(code: string): string[] {
    return [...(this.#state.rooms.get(normalizeCode(code))?.members ?? [])];
  }

  /** Current member count of a subscribed room (join snapshot, then presence events). */
  memberCount(code: string): number {
    return this.#state.rooms.get(normalizeCode(code))?.memberCount ?? 0;
  }

  /** The highest seq of the room delivered in order (0 for an unknown room). */
  lastSeq(code: string): bigint {
    return this.#state.rooms.get(normalizeCode(code))?.lastSeq ?? 0n;
  }

  /** Users online, as last reported by onlineUsers() and userPresence events (sorted). */
  onlineSnapshot(): string[] {
    return [...this.#state.online.users].sort();
  }

  on<K extends keyof ChatEvents>(event: K, listener: (e: ChatEvents[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    const l = listener as Listener;
    set.add(l);
    return () => {
      set.delete(l);
    };
  }

  // ---------------------------------------------------------------- auth

  /** Creates an account and authenticates. Opens the socket if needed. */
  register(username: string, password: string): Promise<AuthOk> {
    return this.#authenticate({ case: "register", value: { username, password } });
  }

  login(username: string, password: string): Promise<AuthOk> {
    return this.#authenticate({ case: "login", value: { username, password } });
  }

  /** Authenticates with a session token from an earlier AuthOk (e.g. stored by the app). */
  resume(token: string): Promise<AuthOk> {
    return this.#authenticate({ case: "resume", value: { sessionToken: token } });
  }

  /** Revokes the session on the server (when it can be reached), closes, and forgets the session. */
  async logout(): Promise<void> {
    if (this.state !== "disconnected") {
      try {
        await this.#request({ case: "logout", value: {} }, "ok", true);
      } catch {
        // Not reachable or already revoked: the session is dropped locally all the same.
      }
    }
    this.#dispatch({ _tag: "Close", forgetToken: true, error: new ChatError("logged out") });
  }

  /**
   * While waiting to reconnect: try now instead of when the backoff says (a "Retry now" button). Returns
   * whether an attempt was started (false when not waiting: connected, connecting, or stopped).
   */
  retryNow(): boolean {
    if (this.#state.conn._tag !== "Backoff") return false;
    this.#dispatch({ _tag: "RetryNow" });
    return true;
  }

  /** Closes the connection without revoking the session and stops reconnecting. `token` stays readable. */
  close(): void {
    this.#dispatch({ _tag: "Close", forgetToken: false, error: new ChatError("the client was closed") });
  }

  // ---------------------------------------------------------------- rooms

  /** Creates a room; the creator is joined and subscribed. */
  createRoom(name: string, persistent = false): Promise<RoomJoined> {
    return this.#request({ case: "createRoom", value: { name, persistent } }, "roomJoined", false, { _tag: "Join" });
  }

  /** Joins a room by code and subscribes: after every reconnect it is rejoined and its missed messages recovered. */
  joinRoom(code: string): Promise<RoomJoined> {
    return this.#request({ case: "joinRoom", value: { code: normalizeCode(code) } }, "roomJoined", true, { _tag: "Join" });
  }

  /** Leaves a room and drops its subscription (at once, even while disconnected). */
  leaveRoom(code: string): Promise<void> {
    return this.#ask((ticket) => ({ _tag: "Leave", ticket, code: normalizeCode(code) }));
  }

  /** Persistent rooms (up to 200, by name) with live member counts. */
  async listRooms(): Promise<RoomSummary[]> {
    const list = await this.#request<{ rooms: RoomSummary[] }>({ case: "listRooms", value: {} }, "roomList", true);
    return list.rooms;
  }

  // ---------------------------------------------------------------- messages

  /**
   * Sends a room message. The returned clientMessageId is also on the message's own push. The send is
   * retried across reconnects with the same id (the server stores it once); `acked` rejects only on an
   * error that retrying cannot fix (not a member, invalid text, the client closed, the session ended).
   */
  send(roomCode: string, text: string, options: SendOptions = {}): PendingSend {
    const clientMessageId = newMessageId();
    const kind: ClientKind = {
      case: "sendMessage",
      value: {
        roomCode: normalizeCode(roomCode),
        clientMessageId,
        text,
        replyToSeq: options.replyTo ?? 0n,
        attachmentIds: [...(options.attachments ?? [])],
      },
    };
    return { clientMessageId, acked: this.#send<SendAck>(kind, "sendAck", text) };
  }

  history(roomCode: string, opts: HistoryOptions = {}): Promise<HistoryPage> {
    return this.#request({ case: "history", value: { roomCode: normalizeCode(roomCode), ...pageRequest(opts) } }, "historyPage", true);
  }

  /** Tells the room's other members whether this user is typing. Repeat `true` within `session.typingTtlMs`. */
  setTyping(roomCode: string, typing: boolean): void {
    this.#dispatch({ _tag: "Typing", code: normalizeCode(roomCode), typing });
  }

  // ---------------------------------------------------------------- direct messages

  /** Who is online. With subscribe (default) userPresence events follow, also after reconnects. */
  onlineUsers(subscribe = true): Promise<string[]> {
    return this.#request({ case: "onlineUsers", value: { subscribe } }, "onlineUsers", true, { _tag: "Online", subscribe });
  }

  /** Sends a direct message; retried like send(). This client gets the ack, not a `direct` event. */
  sendDirect(username: string, text: string, options: SendOptions = {}): PendingDirect {
    const clientMessageId = newMessageId();
    const kind: ClientKind = {
      case: "sendDirect",
      value: {
        recipient: username.trim(),
        clientMessageId,
        text,
        replyToSeq: options.replyTo ?? 0n,
        attachmentIds: [...(options.attachments ?? [])],
      },
    };
    return { clientMessageId, acked: this.#send<DirectAck>(kind, "directAck", text) };
  }

  // ---------------------------------------------------------------- files

  /**
   * Uploads a file over HTTP (POST /v1/uploads on the server of `url`) with this session's token; attach the
   * result by id with send()/sendDirect() `attachments`. `onProgress` reports bytes sent, `signal` cancels (the
   * server keeps nothing). Rejects with FileError (file-too-large, rate-limited, …); describeFileError() words it.
   */
  uploadFile(file: BlobLike, options: UploadOptions = {}): Promise<UploadedFile> {
    const token = this.token;
    if (token === undefined) return Promise.reject(new FileError("unauthenticated", 0, "log in first"));
    return uploadFile(httpBase(this.#url), token, file, options);
  }

  /** Downloads an attachment (`/v1/files/{id}`, or an Attachment's thumbnailUrl) with the token in the header. */
  downloadFile(path: string, signal?: AbortSignalLike): Promise<DownloadedBlob> {
    const token = this.token;
    if (token === undefined) return Promise.reject(new FileError("unauthenticated", 0, "log in first"));
    return downloadFile(httpBase(this.#url), token, path.startsWith("/") ? path : `/v1/files/${encodeURIComponent(path)}`, signal);
  }

  // ---------------------------------------------------------------- message actions

  /**
   * Edits your own message (seq `targetSeq`). The edit arrives as an action event (a `message` or `direct`
   * event whose `action` is set): apply it with applyEvent(). Refused with PERMISSION_DENIED for someone
   * else's message, NOT_FOUND for a missing or deleted one; retried across reconnects like send().
   */
  editMessage(where: Conversation, targetSeq: bigint, text: string): PendingAction {
    return this.#action(where, (conversation, clientMessageId) => ({
      case: "editMessage",
      value: { conversation, targetSeq, clientMessageId, text },
    }));
  }

  /** Deletes your own message: it stays as a tombstone. Refused as editMessage(). */
  deleteMessage(where: Conversation, targetSeq: bigint): PendingAction {
    return this.#action(where, (conversation, clientMessageId) => ({
      case: "deleteMessage",
      value: { conversation, targetSeq, clientMessageId },
    }));
  }

  /**
   * Sets your reaction with `emoji` (one emoji) on a message: `add` true to react, false to take it back. A
   * string that is not a single emoji is refused before sending (INVALID_ARGUMENT).
   */
  react(where: Conversation, targetSeq: bigint, emoji: string, add: boolean): PendingAction {
    if (!isSingleEmoji(emoji)) {
      const acked = Promise.reject(new ChatError("emoji: must be a single emoji", { code: ErrorCode.INVALID_ARGUMENT }));
      acked.catch(() => {});
      return { clientMessageId: "", acked };
    }
    return this.#action(where, (conversation, clientMessageId) => ({
      case: "react",
      value: { conversation, targetSeq, clientMessageId, emoji, add },
    }));
  }

  /** Toggles your reaction on a message as shown: removes it if you reacted with `emoji`, adds it otherwise. */
  toggleReaction(where: Conversation, message: MessageView, emoji: string): PendingAction {
    const me = this.username ?? "";
    return this.react(where, message.seq, emoji, !reactedBy(message, emoji, me));
  }

  #action(
    where: Conversation,
    build: (conversation: { case: "roomCode"; value: string } | { case: "peer"; value: string }, clientMessageId: string) => ClientKind,
  ): PendingAction {
    const clientMessageId = newMessageId();
    const conversation =
      "room" in where
        ? { case: "roomCode" as const, value: normalizeCode(where.room) }
        : { case: "peer" as const, value: where.peer.trim() };
    const expect = "room" in where ? "sendAck" : "directAck";
    return { clientMessageId, acked: this.#send<SendAck | DirectAck>(build(conversation, clientMessageId), expect, "") };
  }

  directHistory(peer: string, opts: HistoryOptions = {}): Promise<DirectHistoryPage> {
    return this.#request({ case: "directHistory", value: { peer: peer.trim(), ...pageRequest(opts) } }, "directHistoryPage", true);
  }

  // ================================================================ the shell

  #authenticate(kind: ClientKind): Promise<AuthOk> {
    return this.#ask((ticket) => ({ _tag: "Authenticate", ticket, kind }));
  }

  #request<T>(kind: ClientKind, expect: ReplyCase, idempotent: boolean, purpose: AppRequest = { _tag: "User" }): Promise<T> {
    return this.#ask((ticket) => ({ _tag: "Request", ticket, kind, expect, idempotent, purpose }));
  }

  #send<T>(kind: ClientKind, expect: "sendAck" | "directAck", text: string): Promise<T> {
    const acked = this.#ask<T>((ticket) => ({ _tag: "Send", ticket, kind, expect, text }));
    // Callers who ignore the outcome must not produce an unhandled rejection; awaiting it still sees it.
    acked.catch(() => {});
    return acked;
  }

  /** A promise settled by a Resolve/Reject effect for its ticket. */
  #ask<T>(event: (ticket: number) => Event): Promise<T> {
    const ticket = this.#nextTicket++;
    const promise = new Promise<T>((resolve, reject) => {
      this.#tickets.set(ticket, { resolve: resolve, reject });
    });
    this.#dispatch(event(ticket));
    return promise;
  }

  #dispatch(event: Event): void {
    const next = step(this.#state, event, { now: Date.now(), random: this.#random(), visible: this.#page.visible });
    this.#state = next.state;
    this.#queue.push(...next.effects);
    if (this.#running) return; // called from a listener: runs after the effects already queued
    this.#running = true;
    try {
      for (let effect = this.#queue.shift(); effect !== undefined; effect = this.#queue.shift()) this.#perform(effect);
    } finally {
      this.#running = false;
      this.#page.listenWhile(this.#state.conn._tag === "Backoff");
    }
  }

  #perform(effect: Effect): void {
    switch (effect._tag) {
      case "Open":
        return this.#open(effect.socket);
      case "Write": {
        const ws = this.#sockets.get(effect.socket);
        if (ws && ws.readyState === OPEN) ws.send(effect.bytes);
        return;
      }
      case "CloseSocket": {
        const ws = this.#sockets.get(effect.socket);
        this.#sockets.delete(effect.socket);
        try {
          ws?.close(effect.code, effect.reason);
        } catch {
          // Already closing.
        }
        return;
      }
      case "SetTimer": {
        clearTimeout(this.#timers.get(effect.timer));
        const name = effect.timer;
        this.#timers.set(
          name,
          setTimeout(() => {
            this.#timers.delete(name);
            this.#dispatch({ _tag: "Timer", timer: name });
          }, effect.ms),
        );
        return;
      }
      case "ClearTimer": {
        const handle = this.#timers.get(effect.timer);
        if (handle !== undefined) clearTimeout(handle);
        this.#timers.delete(effect.timer);
        return;
      }
      case "Resolve":
      case "Reject": {
        const ticket = this.#tickets.get(effect.ticket);
        if (!ticket) return;
        this.#tickets.delete(effect.ticket);
        if (effect._tag === "Resolve") ticket.resolve(effect.value as never);
        else ticket.reject(effect.error);
        return;
      }
      case "Emit":
        return this.#emit(effect.event.name, effect.event.payload);
    }
  }

  #open(socket: number): void {
    let ws: WebSocketLike;
    try {
      ws = new this.#WS(this.#url);
    } catch (error) {
      this.#dispatch({ _tag: "SocketFailed", socket, error });
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#sockets.set(socket, ws);
    ws.addEventListener("open", () => this.#dispatch({ _tag: "SocketOpened", socket }));
    ws.addEventListener("message", (ev: { data: unknown }) => {
      const data = ev.data;
      // The server sends binary frames only.
      if (data instanceof ArrayBuffer) this.#dispatch({ _tag: "SocketMessage", socket, data: new Uint8Array(data) });
      else if (ArrayBuffer.isView(data))
        this.#dispatch({ _tag: "SocketMessage", socket, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    });
    ws.addEventListener("close", (ev: { code: number; reason: string }) => {
      this.#sockets.delete(socket);
      this.#dispatch({ _tag: "SocketClosed", socket, code: ev.code, reason: ev.reason });
    });
    ws.addEventListener("error", () => {
      // A close event always follows; it carries the code.
    });
  }

  #emit(name: keyof ChatEvents, payload: unknown): void {
    const set = this.#listeners.get(name);
    if (!set) return;
    // A snapshot: a listener added by a listener hears the next event, not this one.
    for (const l of [...set]) {
      try {
        (l as (e: unknown) => void)(payload);
      } catch (e) {
        // A listener's bug must not break the client's state; surface it where the platform reports errors.
        const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
        if (report) report(e);
        else console.error("ChatClient: an event listener threw", e);
      }
    }
  }
}
