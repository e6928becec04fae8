// The reactive controller between <chat-app> and the SDK: it owns the ChatClient, turns its events into view
// state (rooms, timelines, members, typing, DMs, online users, connection notices) and asks the host to
// re-render on every change. The element renders this state and calls the methods; it never sees a socket.
import type { ReactiveController, ReactiveControllerHost } from "lit";
import {
  ChatClient,
  type ChatError,
  type ChatMessage,
  type ConnectionState,
  type DirectMessage,
  type HistoryOptions,
  type RoomJoined,
  type RoomSummary,
  CloseCode,
  describeClose,
  describeError,
  ErrorCode,
  PresenceChange,
} from "../sdk/index.ts";
import { plural, recoveredLine } from "./format.ts";
import { type StoredMessage, Timeline } from "./timeline.ts";

export type Phase = "starting" | "auth" | "ready";

export interface RoomView {
  readonly code: string;
  name: string;
  persistent: boolean;
  members: string[];
  memberCount: number;
  readonly timeline: Timeline;
  /** Other members typing now, in the order they started. */
  typing: string[];
  unread: number;
  loadingOlder: boolean;
}

export interface DirectView {
  /** The peer's name as the server spells it. */
  peer: string;
  readonly timeline: Timeline;
  unread: number;
  loadingOlder: boolean;
}

export type Active = { readonly kind: "lobby" } | { readonly kind: "room"; readonly code: string } | { readonly kind: "dm"; readonly peer: string };

export interface Banner {
  readonly text: string;
  readonly tone: "info" | "warn" | "ok";
  /** While waiting to reconnect: when the next attempt starts (for the countdown). */
  readonly retryAtMs?: number;
  /** Offer a "Reconnect now" button (after a close that does not reconnect by itself). */
  readonly canReconnect?: boolean;
  /** False while the notice describes a state still in progress (waiting to reconnect). */
  readonly dismissible: boolean;
}

export interface Toast {
  readonly id: number;
  readonly text: string;
}

/** What the page remembers per server in localStorage, so a reload stays logged in and in its rooms. */
interface Saved {
  token?: string;
  /** Whose rooms and DMs these are. */
  user?: string;
  rooms?: string[];
  dms?: string[];
  active?: Active;
}

const key = (s: string) => s.normalize("NFC").toLowerCase();
const roomName = (r: { name: string; code: string }) => r.name || `Room ${r.code}`;
const TYPING_REFRESH_MS = 2500;
const TYPING_IDLE_MS = 4000;

export class ChatController implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  readonly #serverUrl: () => string;
  #client: ChatClient | undefined;
  #unsubscribe: Array<() => void> = [];

  phase: Phase = "starting";
  me: string | undefined;
  connection: ConnectionState = "disconnected";
  banner: Banner | undefined;
  authError: string | undefined;
  authBusy = false;
  /** Resuming the stored session failed for a reason other than the session (e.g. no network): offer a retry. */
  resumeFailed = false;
  readonly rooms = new Map<string, RoomView>();
  readonly dms = new Map<string, DirectView>();
  online: string[] = [];
  publicRooms: RoomSummary[] = [];
  publicRoomsLoaded = false;
  active: Active = { kind: "lobby" };
  toasts: Toast[] = [];
  /** The code of a room this page just created, to show the share card. */
  justCreated: string | undefined;
  /** The last line for the polite live region (new messages from others, notices). */
  announcement = "";

  #wasReady = false;
  #reconnecting = false;
  #recoveredCount = 0;
  #bannerTimer: ReturnType<typeof setTimeout> | undefined;
  #toastId = 0;
  #typingRoom: string | undefined;
  #typingSentAt = 0;
  #typingIdle: ReturnType<typeof setTimeout> | undefined;

  constructor(host: ReactiveControllerHost, serverUrl: () => string) {
    this.#host = host;
    this.#serverUrl = serverUrl;
    host.addController(this);
  }

  hostConnected(): void {
    if (this.#client === undefined) this.#start();
  }

  hostDisconnected(): void {
    this.#stop();
  }

  /** The server attribute changed: start over against the new server. */
  restart(): void {
    this.#stop();
    this.#reset();
    this.#start();
  }

  // ---- auth ---------------------------------------------------------------------------------------------

  async register(username: string, password: string): Promise<void> {
    await this.#authenticate(() => this.#ensureClient().register(username, password));
  }

  async login(username: string, password: string): Promise<void> {
    await this.#authenticate(() => this.#ensureClient().login(username, password));
  }

  async logout(): Promise<void> {
    this.stopTyping();
    const client = this.#client;
    this.#save({ token: undefined, rooms: undefined, dms: undefined, active: undefined });
    try {
      await client?.logout();
    } catch {
      // Logged out locally whatever the server says: the token is forgotten.
    }
    this.#stop();
    this.#reset();
    this.phase = "auth";
    this.#start(false);
    this.#announce("Logged out");
  }

  // ---- rooms --------------------------------------------------------------------------------------------

  async createRoom(name: string, persistent: boolean): Promise<string | undefined> {
    const client = this.#client;
    if (client === undefined) return "Not connected.";
    try {
      const joined = await client.createRoom(name, persistent);
      const room = this.#adoptRoom(joined);
      this.justCreated = room.code;
      this.open({ kind: "room", code: room.code });
      if (persistent) void this.refreshPublicRooms();
      return undefined;
    } catch (e) {
      return describeError(e);
    }
  }

  async joinRoom(code: string): Promise<string | undefined> {
    const client = this.#client;
    if (client === undefined) return "Not connected.";
    const trimmed = code.trim();
    if (trimmed === "") return "Enter a room code.";
    try {
      const joined = await client.joinRoom(trimmed);
      const room = this.#adoptRoom(joined);
      this.open({ kind: "room", code: room.code });
      return undefined;
    } catch (e) {
      return describeError(e);
    }
  }

  async leaveRoom(code: string): Promise<void> {
    const client = this.#client;
    if (this.#typingRoom === code) this.stopTyping();
    this.rooms.delete(code);
    if (this.active.kind === "room" && this.active.code === code) this.active = { kind: "lobby" };
    if (this.justCreated === code) this.justCreated = undefined;
    this.#saveLists();
    this.#changed();
    try {
      await client?.leaveRoom(code);
    } catch (e) {
      // Not a member any more (the connection dropped meanwhile) is what we wanted anyway.
      if ((e as ChatError).code !== ErrorCode.NOT_MEMBER) this.#toast(describeError(e));
    }
  }

  async refreshPublicRooms(): Promise<void> {
    const client = this.#client;
    if (client === undefined || this.phase !== "ready") return;
    try {
      this.publicRooms = await client.listRooms();
      this.publicRoomsLoaded = true;
      this.#changed();
    } catch (e) {
      this.#toast(describeError(e));
    }
  }

  // ---- conversations ------------------------------------------------------------------------------------

  open(active: Active): void {
    if (this.#typingRoom !== undefined && !(active.kind === "room" && active.code === this.#typingRoom)) this.stopTyping();
    this.active = active;
    if (active.kind === "room") {
      const room = this.rooms.get(active.code);
      if (room !== undefined) {
        room.unread = 0;
        if (!room.timeline.loaded) void this.#loadRoomHistory(room);
      }
    } else if (active.kind === "dm") {
      const dm = this.#direct(active.peer);
      dm.unread = 0;
      if (!dm.timeline.loaded) void this.#loadDirectHistory(dm);
      this.#saveLists();
    } else {
      void this.refreshPublicRooms();
    }
    this.#save({ active });
    this.#changed();
  }

  get activeRoom(): RoomView | undefined {
    return this.active.kind === "room" ? this.rooms.get(this.active.code) : undefined;
  }

  get activeDirect(): DirectView | undefined {
    return this.active.kind === "dm" ? this.dms.get(key(this.active.peer)) : undefined;
  }

  isMe(name: string): boolean {
    return this.me !== undefined && key(name) === key(this.me);
  }

  isOnline(name: string): boolean {
    return this.isMe(name) || this.online.some((u) => key(u) === key(name));
  }

  /** Sends `text` to the active room or DM. Returns an error in words, or undefined. */
  send(text: string): string | undefined {
    const client = this.#client;
    const me = this.me;
    if (client === undefined || me === undefined) return "Not connected.";
    if (text.trim() === "") return undefined;
    const room = this.activeRoom;
    const dm = this.activeDirect;
    try {
      if (room !== undefined) {
        this.stopTyping();
        const { clientMessageId, acked } = client.send(room.code, text);
        room.timeline.addPending(clientMessageId, me, text);
        acked.then(
          (ack) => this.#update(() => room.timeline.markSent(clientMessageId, ack.seq, ack.sentAtMs)),
          (e: unknown) => this.#update(() => room.timeline.markFailed(clientMessageId, describeError(e))),
        );
      } else if (dm !== undefined) {
        const { clientMessageId, acked } = client.sendDirect(dm.peer, text);
        dm.timeline.addPending(clientMessageId, me, text);
        acked.then(
          (ack) => this.#update(() => dm.timeline.markSent(clientMessageId, ack.seq, ack.sentAtMs)),
          (e: unknown) => this.#update(() => dm.timeline.markFailed(clientMessageId, describeError(e))),
        );
      } else {
        return "Open a room or a conversation first.";
      }
    } catch (e) {
      return describeError(e);
    }
    this.#changed();
    return undefined;
  }

  /** Sends a failed message again (a new send: the failed one was never stored). */
  retry(clientMessageId: string, text: string): void {
    const t = this.activeRoom?.timeline ?? this.activeDirect?.timeline;
    t?.remove(clientMessageId);
    this.send(text);
  }

  async loadOlder(): Promise<void> {
    const room = this.activeRoom;
    const dm = this.activeDirect;
    if (room !== undefined) await this.#loadRoomHistory(room, true);
    else if (dm !== undefined) await this.#loadDirectHistory(dm, true);
  }

  // ---- typing -------------------------------------------------------------------------------------------

  /** The composer's text changed: announce typing (throttled), or stop when it was emptied. */
  composing(text: string): void {
    const room = this.activeRoom;
    const client = this.#client;
    if (room === undefined || client === undefined) return;
    if (text.trim() === "") {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (this.#typingRoom !== room.code || now - this.#typingSentAt >= TYPING_REFRESH_MS) {
      if (this.#typingRoom !== undefined && this.#typingRoom !== room.code) this.stopTyping();
      this.#typingRoom = room.code;
      this.#typingSentAt = now;
      this.#safe(() => client.setTyping(room.code, true));
    }
    clearTimeout(this.#typingIdle);
    this.#typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    clearTimeout(this.#typingIdle);
    const code = this.#typingRoom;
    const client = this.#client;
    this.#typingRoom = undefined;
    this.#typingSentAt = 0;
    if (code !== undefined && client !== undefined && this.rooms.has(code)) this.#safe(() => client.setTyping(code, false));
  }

  // ---- notices ------------------------------------------------------------------------------------------

  dismissToast(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
    this.#changed();
  }

  dismissBanner(): void {
    this.banner = undefined;
    this.#changed();
  }

  /** After a close that does not reconnect by itself (rate limited, protocol error): try again by hand. */
  async reconnectNow(): Promise<void> {
    const token = this.#load().token;
    this.#stop();
    this.#reset();
    this.#ensureClient();
    if (token === undefined) {
      this.phase = "auth";
      this.#changed();
      return;
    }
    this.phase = "starting";
    this.#changed();
    await this.#resume(token);
  }

  // ---- internals ----------------------------------------------------------------------------------------

  #start(resume = true): void {
    this.#ensureClient();
    const token = resume ? this.#load().token : undefined;
    if (token !== undefined) {
      this.phase = "starting";
      void this.#resume(token);
    } else {
      this.phase = "auth";
    }
    this.#changed();
  }

  #stop(): void {
    clearTimeout(this.#typingIdle);
    clearTimeout(this.#bannerTimer);
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#client?.close();
    this.#client = undefined;
  }

  #reset(): void {
    this.phase = "auth";
    this.me = undefined;
    this.connection = "disconnected";
    this.banner = undefined;
    this.authError = undefined;
    this.authBusy = false;
    this.resumeFailed = false;
    this.rooms.clear();
    this.dms.clear();
    this.online = [];
    this.publicRooms = [];
    this.publicRoomsLoaded = false;
    this.active = { kind: "lobby" };
    this.toasts = [];
    this.justCreated = undefined;
    this.#wasReady = false;
    this.#reconnecting = false;
    this.#typingRoom = undefined;
  }

  #ensureClient(): ChatClient {
    if (this.#client !== undefined) return this.#client;
    const client = new ChatClient({ url: this.#serverUrl() });
    this.#client = client;
    this.#unsubscribe = [
      client.on("state", (e) => this.#onState(e.state, e.nextRetryMs)),
      client.on("authenticated", (auth) => {
        this.me = auth.username;
        this.#save({ token: auth.sessionToken });
        this.#changed();
      }),
      client.on("message", (m) => this.#onMessage(m)),
      client.on("presence", (p) => this.#update(() => this.#onPresence(p.roomCode, p.username, p.change, p.memberCount))),
      client.on("typing", (t) => this.#update(() => this.#onTyping(t.roomCode, t.username, t.typing))),
      client.on("direct", (d) => this.#onDirect(d)),
      client.on("userPresence", (u) => this.#update(() => this.#onUserPresence(u.username, u.online))),
      client.on("recovered", (r) => this.#update(() => this.#onRecovered(r.roomCode, r.count))),
      client.on("notRecovered", (r) => void this.#onNotRecovered(r.roomCode)),
      client.on("error", (e) => this.#onError(e)),
      client.on("closed", (c) => this.#onClosed(c.code, c.willReconnect)),
    ];
    return client;
  }

  async #authenticate(run: () => Promise<unknown>): Promise<void> {
    this.authBusy = true;
    this.authError = undefined;
    this.#changed();
    try {
      await run();
      await this.#becomeReady();
    } catch (e) {
      this.authError = describeError(e);
    } finally {
      this.authBusy = false;
      this.#changed();
    }
  }

  async #resume(token: string): Promise<void> {
    const client = this.#ensureClient();
    try {
      await client.resume(token);
      await this.#becomeReady();
    } catch (e) {
      const code = (e as ChatError).code;
      if (code === ErrorCode.UNAUTHENTICATED) {
        this.#save({ token: undefined });
        this.authError = "Your session has ended. Log in again.";
        this.resumeFailed = false;
      } else {
        // The server could not be reached: keep the token and offer to try again.
        this.authError = `Could not reach the chat server. ${describeError(e)}`;
        this.resumeFailed = true;
      }
      this.phase = "auth";
      this.#changed();
    }
  }

  /** After auth: rejoin the rooms this page had, restore DMs and the open view, load presence and listings. */
  async #becomeReady(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    this.me = client.username ?? this.me;
    if (client.token !== undefined) this.#save({ token: client.token });
    this.phase = "ready";
    this.#wasReady = true;
    this.#changed();
    const saved = this.#load();
    const mine = saved.user !== undefined && this.me !== undefined && key(saved.user) === key(this.me);
    if (!mine) this.#save({ user: this.me, rooms: undefined, dms: undefined, active: undefined });
    if (mine) {
      for (const code of saved.rooms ?? []) {
        if (this.rooms.has(code)) continue;
        try {
          this.#adoptRoom(await client.joinRoom(code));
        } catch (e) {
          // A temporary room may be gone since: forget it quietly; anything else is worth saying.
          if ((e as ChatError).code !== ErrorCode.NOT_FOUND) this.#toast(`Could not rejoin ${code}: ${describeError(e)}`);
        }
      }
      for (const peer of saved.dms ?? []) this.#direct(peer);
      this.#saveLists();
    }
    const active = mine ? saved.active : undefined;
    if (active?.kind === "room" && this.rooms.has(active.code)) this.open(active);
    else if (active?.kind === "dm") this.open(active);
    else this.open({ kind: "lobby" });
    await Promise.all([this.#refreshOnline(), this.refreshPublicRooms()]);
  }

  #adoptRoom(joined: RoomJoined): RoomView {
    const code = joined.room?.code ?? "";
    let room = this.rooms.get(code);
    if (room === undefined) {
      room = {
        code,
        name: joined.room?.name ?? "",
        persistent: joined.room?.persistent ?? false,
        members: [],
        memberCount: 0,
        timeline: new Timeline((n) => this.isMe(n)),
        typing: [],
        unread: 0,
        loadingOlder: false,
      };
      this.rooms.set(code, room);
    }
    room.members = joined.members.map((m) => m.username);
    room.memberCount = joined.memberCount;
    this.#saveLists();
    this.#changed();
    return room;
  }

  #direct(peer: string): DirectView {
    let dm = this.dms.get(key(peer));
    if (dm === undefined) {
      dm = { peer, timeline: new Timeline((n) => this.isMe(n)), unread: 0, loadingOlder: false };
      this.dms.set(key(peer), dm);
    }
    return dm;
  }

  #loadRoomHistory(room: RoomView, older = false): Promise<void> {
    return this.#loadHistory(room, older, (client, opts) => client.history(room.code, opts));
  }

  #loadDirectHistory(dm: DirectView, older = false): Promise<void> {
    return this.#loadHistory(dm, older, (client, opts) => client.directHistory(dm.peer, opts));
  }

  /** The newest page of a room or DM, or (older) the page before its first message; one load at a time per view. */
  async #loadHistory(
    view: RoomView | DirectView,
    older: boolean,
    fetchPage: (client: ChatClient, opts: HistoryOptions) => Promise<{ readonly messages: readonly StoredMessage[]; readonly hasMore: boolean }>,
  ): Promise<void> {
    const client = this.#client;
    if (client === undefined || view.loadingOlder) return;
    view.loadingOlder = true;
    this.#changed();
    try {
      const anchor = older ? view.timeline.firstSeq : undefined;
      const page = await fetchPage(client, anchor === undefined ? { limit: 50 } : { anchorSeq: anchor, direction: "backward", limit: 50 });
      for (const m of page.messages) view.timeline.addStored(m);
      view.timeline.hasMore = page.hasMore;
      view.timeline.loaded = true;
    } catch (e) {
      this.#toast(describeError(e));
    } finally {
      view.loadingOlder = false;
      this.#changed();
    }
  }

  /** DMs have no recover request: after a reconnect, read each open conversation forward from its last seq. */
  async #catchUpDirect(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    for (const dm of this.dms.values()) {
      if (!dm.timeline.loaded) continue;
      try {
        const page = await client.directHistory(dm.peer, { anchorSeq: dm.timeline.lastSeq, direction: "forward", limit: 200 });
        for (const m of page.messages) this.#addDirect(dm, m);
      } catch {
        // The next reconnect tries again.
      }
    }
    this.#changed();
  }

  async #refreshOnline(): Promise<void> {
    const client = this.#client;
    if (client === undefined) return;
    try {
      this.online = (await client.onlineUsers(true)).filter((u) => !this.isMe(u));
      this.#changed();
    } catch {
      // Presence is a hint; the next reconnect asks again.
    }
  }

  /**
   * The SDK reports a lost connection as "connecting" with `nextRetryMs` (waiting to retry), then
   * "connected" once the session is resumed; "disconnected" only when it stops for good (see #onClosed).
   */
  #onState(state: ConnectionState, nextRetryMs: number | undefined): void {
    this.connection = state;
    if (this.#wasReady && this.phase === "ready") {
      if (state === "connecting") {
        if (!this.#reconnecting) {
          this.#reconnecting = true;
          this.#recoveredCount = 0;
          clearTimeout(this.#bannerTimer);
          for (const room of this.rooms.values()) room.typing = [];
        }
        this.banner = { text: "Connection lost. Reconnecting…", tone: "warn", dismissible: false, ...(nextRetryMs !== undefined ? { retryAtMs: Date.now() + nextRetryMs } : {}) };
        this.#announce(nextRetryMs !== undefined ? `Connection lost. Reconnecting in ${Math.ceil(nextRetryMs / 1000)} s` : "Connection lost. Reconnecting");
      } else if (state === "connected" && this.#reconnecting) {
        this.#reconnecting = false;
        this.#showReconnected();
        void this.#catchUpDirect();
      } else if (state === "disconnected") {
        this.#reconnecting = false;
      }
    }
    this.#changed();
  }

  #showReconnected(): void {
    this.banner = { text: recoveredLine(this.#recoveredCount), tone: "ok", dismissible: true };
    this.#announce(this.banner.text);
    clearTimeout(this.#bannerTimer);
    this.#bannerTimer = setTimeout(() => {
      if (this.banner?.tone === "ok") this.dismissBanner();
    }, 8000);
  }

  #onMessage(m: ChatMessage): void {
    const room = this.rooms.get(m.roomCode);
    if (room === undefined) return;
    const added = room.timeline.addStored(m);
    room.typing = room.typing.filter((u) => key(u) !== key(m.sender));
    if (added && !this.isMe(m.sender)) {
      const visible = this.active.kind === "room" && this.active.code === room.code;
      if (!visible) room.unread++;
      else this.#announce(`${m.sender}: ${m.text}`);
    }
    this.#changed();
  }

  #onPresence(code: string, username: string, change: PresenceChange, memberCount: number): void {
    const room = this.rooms.get(code);
    if (room === undefined) return;
    room.memberCount = memberCount;
    if (change === PresenceChange.JOINED) {
      if (!room.members.some((u) => key(u) === key(username))) room.members = [...room.members, username].sort((a, b) => key(a).localeCompare(key(b)));
      this.#notice(room, `${username} joined`);
    } else if (change === PresenceChange.LEFT) {
      room.members = room.members.filter((u) => key(u) !== key(username));
      room.typing = room.typing.filter((u) => key(u) !== key(username));
      this.#notice(room, `${username} left`);
    }
  }

  #onTyping(code: string, username: string, typing: boolean): void {
    const room = this.rooms.get(code);
    if (room === undefined || this.isMe(username)) return;
    const others = room.typing.filter((u) => key(u) !== key(username));
    room.typing = typing ? [...others, username] : others;
  }

  #onDirect(m: DirectMessage): void {
    const peer = this.isMe(m.sender) ? m.recipient : m.sender;
    const dm = this.#direct(peer);
    this.#addDirect(dm, m);
    this.#saveLists();
    this.#changed();
  }

  #addDirect(dm: DirectView, m: DirectMessage): void {
    const added = dm.timeline.addStored(m);
    if (added && !this.isMe(m.sender)) {
      const visible = this.active.kind === "dm" && key(this.active.peer) === key(dm.peer);
      if (!visible) dm.unread++;
      else this.#announce(`${m.sender} (direct): ${m.text}`);
    }
  }

  #onUserPresence(username: string, online: boolean): void {
    if (this.isMe(username)) return;
    const others = this.online.filter((u) => key(u) !== key(username));
    this.online = online ? [...others, username].sort((a, b) => key(a).localeCompare(key(b))) : others;
  }

  #onRecovered(code: string, count: number): void {
    this.#recoveredCount += count;
    const room = this.rooms.get(code);
    // The recovered messages themselves came as message events (counted as unread there).
    if (room !== undefined && count > 0) this.#notice(room, `${plural(count, "missed message")} recovered`);
    if (this.banner === undefined || this.banner.tone === "ok") this.#showReconnected();
  }

  async #onNotRecovered(code: string): Promise<void> {
    const room = this.rooms.get(code);
    this.banner = { text: "Could not recover missed messages — reloaded history", tone: "warn", dismissible: true };
    this.#announce(this.banner.text);
    clearTimeout(this.#bannerTimer);
    this.#bannerTimer = setTimeout(() => {
      if (this.banner?.tone === "warn" && !this.#reconnecting) this.dismissBanner();
    }, 12000);
    if (room === undefined) return this.#changed();
    room.timeline.clearStored();
    await this.#loadRoomHistory(room);
    this.#notice(room, "Could not recover missed messages — history reloaded", "warn");
    this.#changed();
  }

  #onError(e: ChatError): void {
    const room = e.roomCode !== undefined ? this.rooms.get(e.roomCode) : undefined;
    if (room !== undefined) {
      // The SDK could not rejoin it after a reconnect (a temporary room expired meanwhile): drop it here too.
      this.rooms.delete(room.code);
      if (this.active.kind === "room" && this.active.code === room.code) this.active = { kind: "lobby" };
      this.#saveLists();
      this.#toast(e.code === ErrorCode.NOT_FOUND ? `${roomName(room)} no longer exists.` : `Left ${roomName(room)}: ${describeError(e)}`);
      return;
    }
    // A close that ends the session is already shown in the banner (#onClosed).
    if (e.closeCode !== undefined) return;
    this.#toast(describeError(e));
  }

  #onClosed(code: number, willReconnect: boolean): void {
    if (willReconnect || this.phase !== "ready") return;
    if (code === CloseCode.NORMAL) return;
    if (code === CloseCode.SESSION_REVOKED) {
      this.#save({ token: undefined });
      // Start over once the SDK has finished handling this close.
      setTimeout(() => {
        this.#stop();
        this.#reset();
        this.authError = "You were logged out (the session ended elsewhere). Log in again.";
        this.#start(false);
      }, 0);
      return;
    }
    // "Disconnected: Too much was sent too fast." (the SDK's words may end by saying "Disconnected." again).
    const why = describeClose(code).replace(/\s*Disconnected\.$/, "");
    this.banner = { text: `Disconnected: ${why}`, tone: "warn", canReconnect: true, dismissible: true };
    // This client sends nothing more (Reconnect starts a new one), so no message of ours is still on its way.
    // The SDK rejects most unacked sends now, but not every one (seen after two 4103 closes in a row).
    this.#failPending(describeClose(code));
    this.#announce(this.banner.text);
    this.#changed();
  }

  #failPending(reason: string): void {
    for (const t of [...this.rooms.values(), ...this.dms.values()].map((v) => v.timeline)) {
      const pending = t.entries.flatMap((e) => (e.kind === "message" && e.status === "pending" ? [e.clientMessageId] : []));
      for (const id of pending) t.markFailed(id, reason);
    }
  }

  #notice(room: RoomView, text: string, tone: "info" | "warn" = "info"): void {
    room.timeline.addNotice(text, tone);
    if (this.active.kind === "room" && this.active.code === room.code) this.#announce(text);
  }

  #toast(text: string): void {
    const id = ++this.#toastId;
    this.toasts = [...this.toasts.slice(-2), { id, text }];
    setTimeout(() => this.dismissToast(id), 8000);
    this.#changed();
  }

  #announce(text: string): void {
    this.announcement = text;
  }

  #safe(run: () => void): void {
    try {
      run();
    } catch {
      // Typing is a hint: not connected right now is fine.
    }
  }

  #update(run: () => void): void {
    run();
    this.#changed();
  }

  #changed(): void {
    this.#host.requestUpdate();
  }

  // ---- persistence --------------------------------------------------------------------------------------

  get #storageKey(): string {
    return `protochat:${this.#serverUrl()}`;
  }

  #load(): Saved {
    try {
      const raw = globalThis.localStorage?.getItem(this.#storageKey);
      return raw ? (JSON.parse(raw) as Saved) : {};
    } catch {
      return {};
    }
  }

  #save(patch: Partial<Record<keyof Saved, unknown>>): void {
    try {
      const next: Record<string, unknown> = { ...this.#load(), ...patch };
      for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
      globalThis.localStorage?.setItem(this.#storageKey, JSON.stringify(next));
    } catch {
      // Storage can be full or disabled: the page then just forgets on reload.
    }
  }

  #saveLists(): void {
    if (this.phase !== "ready") return;
    this.#save({ rooms: [...this.rooms.keys()], dms: [...this.dms.values()].map((d) => d.peer) });
  }
}
