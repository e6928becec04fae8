// The reactive controller between <chat-app> and the SDK: it owns the ChatClient, signs in (or resumes the
// stored session), follows the connection and turns the SDK's events into view state, asking the host to
// render on every change. Elements render this state and call its methods; none of them sees a socket.
// It dispatches <chat-app>'s public events where their change happens (sign-in, sign-out, connection, send).
// Over 400 lines on purpose: it is the one place where the SDK's session lifecycle (auth, resume, reconnect,
// close codes) meets the view; what could stand alone already does (ChatViewState, Conversations, Notices,
// SavedSession, Attention).
import type { ReactiveController, ReactiveControllerHost } from "lit";
import {
  ChatClient,
  type ChatError,
  type ConnectionState,
  CloseCode,
  describeError,
  ErrorCode,
  FileError,
  type UploadedFile,
  type UploadOptions,
} from "../sdk/index.ts";
import { type Active, nameKey, type RoomView, roomTitle } from "./chat-state.ts";
import { ChatViewState } from "./chat-view-state.ts";
import { Notices } from "./notices.ts";
import { Conversations } from "./conversations.ts";
import { type ChatEventDetails, type ChatEventName, chatEvent } from "./events.ts";
import { plural } from "./format.ts";
import { clearInvite } from "./invite.ts";
import { SavedSession } from "./saved-session.ts";
import type { ReplyTarget } from "./timeline.ts";

export class ChatController extends ChatViewState implements ReactiveController {
  readonly #host: ReactiveControllerHost & HTMLElement;
  readonly #serverUrl: () => string;
  readonly #saved: SavedSession;
  readonly #conv: Conversations;
  readonly #notices: Notices;
  #client: ChatClient | undefined;
  #unsubscribe: Array<() => void> = [];

  /** Who the public chat-login / chat-logout events last said is signed in. */
  #signedIn: string | undefined;
  #wasReady = false;
  #reconnecting = false;
  #recoveredCount = 0;

  constructor(host: ReactiveControllerHost & HTMLElement, serverUrl: () => string) {
    super();
    this.#host = host;
    this.#serverUrl = serverUrl;
    this.#saved = new SavedSession(serverUrl);
    this.#notices = new Notices(() => this.#changed());
    this.#conv = new Conversations({
      client: () => this.#client,
      me: () => this.me,
      changed: () => this.#changed(),
      toast: (text) => this.#notices.toast(text),
      announce: (text) => this.#notices.announce(text),
      remember: (patch) => {
        // Lists belong to whoever is signed in: none are saved before that is known.
        if (patch.active === undefined && this.phase !== "ready") return;
        this.#saved.save(patch);
      },
      sent: (detail) => this.#emit("chat-message-send", detail),
      notify: (title, body, conversation, open) => this.attention.notify(title, body, conversation, open),
    });
    this.conv = this.#conv;
    this.notices = this.#notices;
    host.addController(this);
  }

  hostConnected(): void {
    globalThis.document?.addEventListener("visibilitychange", this.#onVisibility);
    if (this.#client === undefined) this.#start();
  }

  hostDisconnected(): void {
    globalThis.document?.removeEventListener("visibilitychange", this.#onVisibility);
    this.attention.restoreTitle();
    this.#stop();
  }

  #onVisibility = (): void => {
    if (globalThis.document?.visibilityState !== "visible") return;
    this.#conv.pageShown();
    this.#changed();
  };

  /** How long an empty temporary room survives (the server's AuthOk.room_grace_ms), in ms. */
  get roomGraceMs(): number {
    return this.#client?.session?.roomGraceMs ?? 30_000;
  }

  /** Desktop notifications on or off, from a click (the browser asks for permission then). */
  async setNotifications(on: boolean): Promise<void> {
    const state = await this.attention.setNotifications(on);
    if (on && state === "blocked") this.#notices.toast("Notifications are blocked for this site in the browser's settings.");
    if (on && state === "unsupported") this.#notices.toast("This browser cannot show notifications.");
    this.#changed();
  }

  /** While waiting to reconnect: try now. */
  retryNow(): void {
    if (this.#client?.retryNow() === true) this.#changed();
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
    this.#saved.save({ token: undefined, rooms: undefined, dms: undefined, active: undefined });
    try {
      await client?.logout();
    } catch {
      // Logged out locally whatever the server says: the token is forgotten.
    }
    this.#stop();
    this.#reset();
    this.phase = "auth";
    this.#start(false);
    this.#notices.announce("Logged out");
  }

  // ---- rooms --------------------------------------------------------------------------------------------

  /** Creates a room and opens it. Returns an error in words, or undefined. */
  async createRoom(name: string, persistent: boolean): Promise<string | undefined> {
    const client = this.#client;
    if (client === undefined) return "Not connected.";
    try {
      const room = this.#conv.adoptRoom(await client.createRoom(name, persistent));
      this.justCreated = room.code;
      this.open({ kind: "room", code: room.code });
      if (persistent) void this.refreshPublicRooms();
      return undefined;
    } catch (e) {
      return describeError(e);
    }
  }

  /** Joins a room by its code and opens it. Returns an error in words, or undefined. */
  async joinRoom(code: string): Promise<string | undefined> {
    const client = this.#client;
    if (client === undefined) return "Not connected.";
    const trimmed = code.trim();
    if (trimmed === "") return "Enter a room code.";
    try {
      const room = this.#conv.adoptRoom(await client.joinRoom(trimmed));
      this.open({ kind: "room", code: room.code });
      return undefined;
    } catch (e) {
      return describeError(e);
    }
  }

  async leaveRoom(code: string): Promise<void> {
    const client = this.#client;
    this.#conv.dropRoom(code);
    if (this.justCreated === code) this.justCreated = undefined;
    this.#changed();
    try {
      await client?.leaveRoom(code);
    } catch (e) {
      // Not a member any more (the connection dropped meanwhile) is what we wanted anyway.
      if ((e as ChatError).code !== ErrorCode.NOT_MEMBER) this.#notices.toast(describeError(e));
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
      this.#notices.toast(describeError(e));
    }
  }

  // ---- conversations ------------------------------------------------------------------------------------

  open(active: Active): void {
    this.#conv.open(active);
    if (active.kind === "lobby") void this.refreshPublicRooms();
    this.#changed();
  }

  /** Sends `text` and uploaded `files` to the open room or DM (and fires chat-message-send). Returns an error in words, or undefined. */
  send(text: string, files: ReadonlyArray<UploadedFile> = []): string | undefined {
    return this.#conv.send(text, files);
  }

  /** Uploads a file for the next message (docs/protocol.md 3.13); rejects with a FileError. */
  upload(file: Blob, options: UploadOptions): Promise<UploadedFile> {
    const client = this.#client;
    return client === undefined ? Promise.reject(new FileError("unauthenticated", 0, "not connected")) : client.uploadFile(file, options);
  }

  /** An attachment's bytes (or its thumbnail's), fetched with the session token. */
  download(path: string): Promise<Blob> {
    const client = this.#client;
    // In a browser the SDK's DownloadedBlob is a Blob.
    return client === undefined
      ? Promise.reject(new FileError("unauthenticated", 0, "not connected"))
      : (client.downloadFile(path) as Promise<unknown> as Promise<Blob>);
  }

  /** Sends a failed message again. Returns an error in words, or undefined. */
  retry(clientMessageId: string, text: string): string | undefined {
    return this.#conv.retry(clientMessageId, text);
  }

  /** Starts a reply to a message of the open conversation (undefined cancels it). */
  replyTo(target: ReplyTarget | undefined): void {
    this.#conv.replyTo(target);
  }

  /** Edits your message `seq` in the open conversation (failures become a toast). */
  editMessage(seq: bigint, text: string): void {
    this.#conv.act((client, where) => client.editMessage(where, seq, text));
  }

  /** Deletes your message `seq` in the open conversation. */
  deleteMessage(seq: bigint): void {
    this.#conv.act((client, where) => client.deleteMessage(where, seq));
  }

  /** Adds or removes your reaction with `emoji` on message `seq` of the open conversation. */
  react(seq: bigint, emoji: string, add: boolean): void {
    this.#conv.act((client, where) => client.react(where, seq, emoji, add));
  }

  loadOlder(): Promise<void> {
    return this.#conv.loadOlder();
  }

  /** The composer's text changed: tell the open room we are typing (throttled), or that we stopped. */
  composing(text: string): void {
    const room = this.activeRoom;
    if (room !== undefined) this.#conv.typing.composing(room.code, text);
  }

  stopTyping(): void {
    this.#conv.typing.stop();
  }

  /** After a close that does not reconnect by itself (rate limited, protocol error): try again by hand. */
  async reconnectNow(): Promise<void> {
    const token = this.#saved.load().token;
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

  // ---- lifecycle ----------------------------------------------------------------------------------------

  #start(resume = true): void {
    this.#ensureClient();
    const token = resume ? this.#saved.load().token : undefined;
    if (token !== undefined) {
      this.phase = "starting";
      void this.#resume(token);
    } else {
      this.phase = "auth";
    }
    this.#changed();
  }

  #stop(): void {
    this.#conv.typing.reset();
    this.#notices.stop();
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.#client?.close();
    this.#client = undefined;
  }

  #reset(): void {
    this.phase = "auth";
    this.me = undefined;
    this.#setSignedIn(undefined);
    this.#setConnection("disconnected");
    this.authError = undefined;
    this.authBusy = false;
    this.resumeFailed = false;
    this.#conv.clear();
    this.publicRooms = [];
    this.publicRoomsLoaded = false;
    this.#notices.clear();
    this.justCreated = undefined;
    this.#wasReady = false;
    this.#reconnecting = false;
  }

  #ensureClient(): ChatClient {
    if (this.#client !== undefined) return this.#client;
    const client = new ChatClient({ url: this.#serverUrl() });
    const conv = this.#conv;
    this.#client = client;
    this.#unsubscribe = [
      client.on("state", (e) => this.#onState(e.state, e.nextRetryMs)),
      client.on("authenticated", (auth) => {
        this.me = auth.username;
        this.#saved.save({ token: auth.sessionToken });
        this.#changed();
      }),
      client.on("message", (m) => conv.onMessage(m)),
      client.on("presence", (p) => {
        const room = this.rooms.get(p.roomCode);
        const notice = conv.onPresence(p.roomCode, p.username, p.change, p.memberCount);
        if (room !== undefined && notice !== undefined) this.#notice(room, notice);
        this.#changed();
      }),
      client.on("typing", (t) => this.#update(() => conv.onTyping(t.roomCode, t.username, t.typing))),
      client.on("direct", (d) => conv.onDirect(d)),
      client.on("userPresence", (u) => this.#update(() => conv.onUserPresence(u.username, u.online))),
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
        this.#saved.save({ token: undefined });
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
    if (client.token !== undefined) this.#saved.save({ token: client.token });
    this.phase = "ready";
    this.#wasReady = true;
    this.#setSignedIn(this.me);
    this.#changed();
    const saved = this.#saved.load();
    const mine = saved.user !== undefined && this.me !== undefined && nameKey(saved.user) === nameKey(this.me);
    if (!mine) this.#saved.save({ user: this.me, rooms: undefined, dms: undefined, active: undefined });
    if (mine) {
      for (const code of saved.rooms ?? []) {
        if (this.rooms.has(code)) continue;
        try {
          this.#conv.adoptRoom(await client.joinRoom(code));
          this.#changed();
        } catch (e) {
          // A temporary room may be gone since: forget it quietly; anything else is worth saying.
          if ((e as ChatError).code !== ErrorCode.NOT_FOUND) this.#notices.toast(`Could not rejoin ${code}: ${describeError(e)}`);
        }
      }
      for (const peer of saved.dms ?? []) this.#conv.direct(peer);
      this.#conv.saveLists();
    }
    const active = mine ? saved.active : undefined;
    if (active?.kind === "room" && this.rooms.has(active.code)) this.open(active);
    else if (active?.kind === "dm") this.open(active);
    else this.open({ kind: "lobby" });
    await this.#joinInvite();
    await Promise.all([this.#conv.refreshOnline(), this.refreshPublicRooms()]);
  }

  /** The page was opened with an invite link: join that room (once) and open it, then clear the link. */
  async #joinInvite(): Promise<void> {
    const code = this.invite;
    if (code === undefined) return;
    this.invite = undefined;
    clearInvite();
    if (this.rooms.has(code)) return this.open({ kind: "room", code });
    const error = await this.joinRoom(code);
    if (error !== undefined) this.#notices.toast(`Could not join the invited room ${code}: ${error}`);
  }

  // ---- the connection -----------------------------------------------------------------------------------

  /**
   * The SDK reports a lost connection as "connecting" with `nextRetryMs` (waiting to retry), then
   * "connected" once the session is resumed; "disconnected" only when it stops for good (see #onClosed).
   */
  #onState(state: ConnectionState, nextRetryMs: number | undefined): void {
    this.#setConnection(state);
    if (this.#wasReady && this.phase === "ready") {
      if (state === "connecting") {
        if (!this.#reconnecting) {
          this.#reconnecting = true;
          this.#recoveredCount = 0;
          for (const room of this.rooms.values()) room.typing = [];
        }
        this.#notices.connectionLost(nextRetryMs);
      } else if (state === "connected" && this.#reconnecting) {
        this.#reconnecting = false;
        this.#notices.reconnected(this.#recoveredCount);
        void this.#conv.catchUpDirect();
      } else if (state === "disconnected") {
        this.#reconnecting = false;
      }
    }
    this.#changed();
  }

  #onRecovered(code: string, count: number): void {
    this.#recoveredCount += count;
    const room = this.rooms.get(code);
    // The recovered messages themselves came as message events (counted as unread there).
    if (room !== undefined && count > 0) this.#notice(room, `${plural(count, "missed message")} recovered`);
    if (this.banner === undefined || this.banner.tone === "ok") this.#notices.reconnected(this.#recoveredCount);
  }

  async #onNotRecovered(code: string): Promise<void> {
    const room = this.rooms.get(code);
    this.#notices.notRecovered(() => this.#reconnecting);
    if (room === undefined) return this.#changed();
    room.timeline.clearStored();
    await this.#conv.loadRoomHistory(room);
    this.#notice(room, "Could not recover missed messages — history reloaded", "warn");
    this.#changed();
  }

  #onError(e: ChatError): void {
    const room = e.roomCode !== undefined ? this.rooms.get(e.roomCode) : undefined;
    if (room !== undefined) {
      // The SDK could not rejoin it after a reconnect (a temporary room expired meanwhile): drop it here too.
      this.#conv.dropRoom(room.code);
      this.#notices.toast(
        e.code === ErrorCode.NOT_FOUND ? `${roomTitle(room)} no longer exists.` : `Left ${roomTitle(room)}: ${describeError(e)}`,
      );
      return;
    }
    // A close that ends the session is already shown in the banner (#onClosed).
    if (e.closeCode !== undefined) return;
    this.#notices.toast(describeError(e));
  }

  #onClosed(code: number, willReconnect: boolean): void {
    if (willReconnect || this.phase !== "ready") return;
    if (code === CloseCode.NORMAL) return;
    if (code === CloseCode.SESSION_REVOKED) {
      this.#saved.save({ token: undefined });
      // The SDK has finished stopping before it reports the close (every pending send already rejected), so
      // starting over from inside its listener is safe.
      this.#stop();
      this.#reset();
      this.authError = "You were logged out (the session ended elsewhere). Log in again.";
      this.#start(false);
      return;
    }
    this.#notices.disconnected(code);
    // Every unacked send was rejected by the SDK before this close was reported: those messages show as failed.
    this.#changed();
  }

  // ---- room notices and events -------------------------------------------------------------------------------

  #notice(room: RoomView, text: string, tone: "info" | "warn" = "info"): void {
    room.timeline.addNotice(text, tone);
    if (this.active.kind === "room" && this.active.code === room.code) this.#notices.announce(text);
  }

  #setSignedIn(user: string | undefined): void {
    if (user === this.#signedIn) return;
    const was = this.#signedIn;
    this.#signedIn = user;
    if (user !== undefined) this.#emit("chat-login", { username: user });
    else if (was !== undefined) this.#emit("chat-logout", {});
  }

  #setConnection(state: ConnectionState): void {
    if (state === this.connection) return;
    this.connection = state;
    this.#emit("chat-connection-change", { state });
  }

  #emit<K extends ChatEventName>(name: K, detail: ChatEventDetails[K]): void {
    this.#host.dispatchEvent(chatEvent(name, detail));
  }

  #update(run: () => void): void {
    run();
    this.#changed();
  }

  #changed(): void {
    this.#host.requestUpdate();
  }
}
