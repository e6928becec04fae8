// <chat-app>: the whole chat in one drop-in element: sign-in, rooms, timeline, members, typing, DMs and
// connection notices. State lives in ChatController; this class renders it and turns input into calls.
// Every piece of user text goes through Lit text bindings: nothing from the server is parsed as HTML.
import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { styleMap } from "lit/directives/style-map.js";
import { ChatController, type DirectView, type RoomView } from "./chat-controller.ts";
import { styles } from "./chat-app.styles.ts";
import { fullTime, hueOf, initial, plural, reconnectLine, shortTime, typingLine, utf8Length } from "./format.ts";
import * as icons from "./icons.ts";
import type { Entry, MessageEntry, Timeline } from "./timeline.ts";

const MAX_TEXT_BYTES = 4096;
const GROUP_WINDOW_MS = 5 * 60 * 1000;

/** The WebSocket endpoint of the page's own server: ws(s)://<host>/ws. */
export const defaultServerUrl = (): string => {
  const loc = globalThis.location;
  if (loc === undefined) return "ws://localhost:8080/ws";
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws`;
};

/**
 * A complete chat client as one element: `<chat-app server="ws://host:8080/ws"></chat-app>`.
 *
 * @fires chat-login - `{ username }` after a sign-in, registration or resumed session.
 * @fires chat-logout - `{}` after the user logged out.
 * @fires chat-connection-change - `{ state }` ("disconnected" | "connecting" | "connected").
 * @fires chat-message-send - `{ room?: string, peer?: string }` when the user sends a message.
 *
 * @csspart app - the signed-in layout (grid of sidebar, main pane, member list)
 * @csspart auth - the sign-in screen; @csspart auth-form - its form
 * @csspart sidebar - rooms, direct messages and online users; @csspart room-item, dm-item, online-item - their entries
 * @csspart main - the conversation pane; @csspart conversation-header - its header
 * @csspart room-code - the room code (header chip and share card); @csspart copy-button - copy-code buttons
 * @csspart banner - the connection notice; @csspart connection-status - the status pill
 * @csspart timeline - the message list; @csspart message, message-own, bubble, notice - its entries
 * @csspart typing - the "X is typing…" line; @csspart composer, composer-input, send-button - the message form
 * @csspart members - the member list; @csspart lobby - create / join / public rooms
 * @csspart button, input - every button and text field; @csspart toast - error notices
 *
 * @cssproperty --chat-accent - accent colour (buttons, own messages, focus)
 * @cssproperty --chat-accent-fg - text on the accent colour
 * @cssproperty --chat-bg - background; @cssproperty --chat-fg - text colour
 * @cssproperty --chat-surface - sidebar and panels; @cssproperty --chat-raised - cards and inputs
 * @cssproperty --chat-border - lines; @cssproperty --chat-muted - secondary text
 * @cssproperty --chat-own-bg / --chat-own-fg - own message bubbles; --chat-other-bg / --chat-other-fg - others'
 * @cssproperty --chat-danger / --chat-success / --chat-warning - status colours
 * @cssproperty --chat-font - font family; --chat-mono-font - room codes; --chat-radius - bubble radius
 * @cssproperty --chat-sidebar-width / --chat-members-width - column widths
 */
export class ChatApp extends LitElement {
  static override properties = {
    server: { type: String },
    _authMode: { state: true },
    _sidebarOpen: { state: true },
    _membersOpen: { state: true },
    _createError: { state: true },
    _joinError: { state: true },
    _sendError: { state: true },
    _copied: { state: true },
    _now: { state: true },
  };

  static override styles = styles;

  /** WebSocket URL of the chat server; default: /ws on the page's own host. */
  declare server: string;
  declare _authMode: "login" | "register";
  declare _sidebarOpen: boolean;
  declare _membersOpen: boolean;
  declare _createError: string | undefined;
  declare _joinError: string | undefined;
  declare _sendError: string | undefined;
  declare _copied: { code: string; how: "copied" | "selected" } | undefined;
  declare _now: number;

  readonly chat: ChatController;

  #stickToBottom = true;
  #shownConversation = "";
  #countdown: ReturnType<typeof setInterval> | undefined;
  #lastMe: string | undefined;
  #lastConnection: string | undefined;

  constructor() {
    super();
    this.server = "";
    this._authMode = "login";
    this._sidebarOpen = false;
    this._membersOpen = false;
    this._createError = undefined;
    this._joinError = undefined;
    this._sendError = undefined;
    this._copied = undefined;
    this._now = Date.now();
    this.chat = new ChatController(this, () => this.serverUrl);
  }

  /** The server this element talks to. */
  get serverUrl(): string {
    return this.server.trim() || defaultServerUrl();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    clearInterval(this.#countdown);
    this.#countdown = undefined;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("server") && this.hasUpdated) this.chat.restart();
    // Signed out (here, or the session ended elsewhere): whoever was signed in has an account, so offer
    // the log-in form rather than the sign-up one they may have used.
    if (this.chat.phase !== "ready" && this.#lastMe !== undefined) this._authMode = "login";
    const el = this.#timelineEl();
    if (el !== null) this.#stickToBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 96;
  }

  protected override updated(): void {
    const el = this.#timelineEl();
    const shown = this.#conversationKey();
    if (el !== null) {
      if (shown !== this.#shownConversation || this.#stickToBottom) el.scrollTop = el.scrollHeight;
    }
    this.#shownConversation = shown;
    const counting = this.chat.banner?.retryAtMs !== undefined;
    if (counting && this.#countdown === undefined) this.#countdown = setInterval(() => (this._now = Date.now()), 250);
    if (!counting && this.#countdown !== undefined) {
      clearInterval(this.#countdown);
      this.#countdown = undefined;
    }
    this.#emitChanges();
  }

  protected override render(): TemplateResult {
    const c = this.chat;
    const body = c.phase === "starting" ? this.#renderStarting() : c.phase === "auth" ? this.#renderAuth() : this.#renderApp();
    // One polite live region announces new messages from others, join/leave and connection notices; the
    // timeline itself is a log that is not live, so switching rooms does not read out a whole history.
    return html`${body}<div class="sr-only" role="status" aria-live="polite" aria-atomic="true" data-announcement>${c.announcement}</div>`;
  }

  // ---- screens ------------------------------------------------------------------------------------------

  #renderStarting(): TemplateResult {
    return html`<div class="center" part="auth">
      <div class="auth-card" style="justify-items:center;text-align:center">
        <div class="spinner" aria-hidden="true"></div>
        <p>Connecting to the chat…</p>
      </div>
    </div>`;
  }

  #renderAuth(): TemplateResult {
    const c = this.chat;
    const login = this._authMode === "login";
    return html`<div class="center" part="auth">
      <form class="auth-card" part="auth-form" aria-labelledby="auth-title" @submit=${this.#onAuthSubmit}>
        <div class="brand"><span class="logo" aria-hidden="true">◆</span>protochat</div>
        <div>
          <h1 id="auth-title">${login ? "Welcome back" : "Create your account"}</h1>
        </div>
        <p class="sub">${login ? "Log in to pick up where you left off." : "Pick a name others will see. No e-mail needed."}</p>
        <div class="segmented" role="group" aria-label="Log in or register">
          <button type="button" aria-pressed=${login ? "true" : "false"} @click=${() => this.#setAuthMode("login")}>Log in</button>
          <button type="button" aria-pressed=${login ? "false" : "true"} @click=${() => this.#setAuthMode("register")}>Register</button>
        </div>
        <label class="field"
          >Username
          <input class="input" part="input" name="username" autocomplete="username" required maxlength="64" spellcheck="false" autocapitalize="none" />
        </label>
        <label class="field"
          >Password
          <input
            class="input"
            part="input"
            name="password"
            type="password"
            required
            minlength=${login ? 1 : 8}
            maxlength="256"
            autocomplete=${login ? "current-password" : "new-password"}
            aria-describedby=${login ? nothing : "pw-hint"}
          />
        </label>
        ${login ? nothing : html`<p id="pw-hint" class="muted" style="font-size:13px;margin-top:-8px">At least 8 characters.</p>`}
        ${c.authError ? html`<p class="error" role="alert">${c.authError}</p>` : nothing}
        ${c.resumeFailed ? html`<button type="button" class="btn" part="button" @click=${() => this.chat.reconnectNow()}>Try again</button>` : nothing}
        <button class="btn primary" part="button" type="submit" ?disabled=${c.authBusy}>
          ${c.authBusy ? (login ? "Logging in…" : "Creating account…") : login ? "Log in" : "Create account"}
        </button>
        <p class="server">Server: ${this.serverUrl}</p>
      </form>
    </div>`;
  }

  #renderApp(): TemplateResult {
    const c = this.chat;
    const room = c.activeRoom;
    const classes = ["app", room !== undefined ? "with-members" : "", this._sidebarOpen ? "sidebar-open" : "", this._membersOpen && room !== undefined ? "members-open" : ""];
    return html`<div class=${classes.join(" ")} part="app" @keydown=${this.#onAppKeydown}>
      <button
        class="scrim"
        tabindex="-1"
        aria-hidden="true"
        @click=${() => {
          this._sidebarOpen = false;
          this._membersOpen = false;
        }}
      ></button>
      ${this.#renderSidebar()}
      <main class="main" part="main">
        ${this.#renderHeader()} ${this.#renderBanner()}
        ${c.active.kind === "lobby" || (room === undefined && c.activeDirect === undefined) ? this.#renderLobby() : this.#renderConversation()}
      </main>
      ${room !== undefined ? this.#renderMembers(room) : nothing}
      <div class="toasts">
        ${c.toasts.map(
          (t) => html`<div class="toast" part="toast" role="alert">
            <span class="text">${t.text}</span>
            <button class="btn ghost small icon" part="button" aria-label="Dismiss" @click=${() => c.dismissToast(t.id)}>${icons.closeIcon}</button>
          </div>`,
        )}
      </div>
    </div>`;
  }

  // ---- sidebar ------------------------------------------------------------------------------------------

  #renderSidebar(): TemplateResult {
    const c = this.chat;
    const rooms = [...c.rooms.values()];
    const dms = [...c.dms.values()];
    return html`<nav class="sidebar" part="sidebar" aria-label="Rooms and people">
      <div class="side-head">
        <div class="brand"><span class="logo" aria-hidden="true">◆</span>protochat</div>
        ${this.#renderStatus()}
      </div>
      <div class="side-scroll">
        <button class="btn new-room" part="button" @click=${() => this.#go({ kind: "lobby" })} aria-current=${c.active.kind === "lobby" ? "page" : nothing}>
          ${icons.plusIcon} New room or join
        </button>
        <section class="side-section" aria-labelledby="rooms-h">
          <h2 id="rooms-h">Rooms</h2>
          ${rooms.length === 0 ? html`<p class="side-empty">No rooms yet.</p>` : nothing}
          <ul>
            ${repeat(
              rooms,
              (r) => r.code,
              (r) => {
                const current = c.active.kind === "room" && c.active.code === r.code;
                return html`<li>
                  <button
                    class="item"
                    part="room-item"
                    data-code=${r.code}
                    aria-current=${current ? "page" : nothing}
                    aria-label=${`${roomTitle(r)}, code ${r.code}${r.unread ? `, ${plural(r.unread, "unread message")}` : ""}`}
                    @click=${() => this.#go({ kind: "room", code: r.code })}
                  >
                    <span class="hash" aria-hidden="true">#</span>
                    <span class="label">${roomTitle(r)}</span>
                    ${r.unread > 0 ? html`<span class="badge" aria-hidden="true">${r.unread}</span>` : html`<span class="sub" aria-hidden="true">${r.code}</span>`}
                  </button>
                </li>`;
              },
            )}
          </ul>
        </section>
        <section class="side-section" aria-labelledby="dms-h">
          <h2 id="dms-h">Direct messages</h2>
          ${dms.length === 0 ? html`<p class="side-empty">Pick someone online to start.</p>` : nothing}
          <ul>
            ${repeat(
              dms,
              (d) => d.peer.toLowerCase(),
              (d) => {
                const current = c.active.kind === "dm" && c.active.peer.toLowerCase() === d.peer.toLowerCase();
                return html`<li>
                  <button
                    class="item"
                    part="dm-item"
                    data-peer=${d.peer}
                    aria-current=${current ? "page" : nothing}
                    aria-label=${`Direct messages with ${d.peer}${c.isOnline(d.peer) ? ", online" : ""}${d.unread ? `, ${plural(d.unread, "unread message")}` : ""}`}
                    @click=${() => this.#go({ kind: "dm", peer: d.peer })}
                  >
                    ${avatar(d.peer, c.isOnline(d.peer), true)}
                    <span class="label">${d.peer}</span>
                    ${d.unread > 0 ? html`<span class="badge" aria-hidden="true">${d.unread}</span>` : nothing}
                  </button>
                </li>`;
              },
            )}
          </ul>
        </section>
        <section class="side-section" aria-labelledby="online-h">
          <h2 id="online-h">Online <span aria-label=${plural(c.online.length, "person", "people") + " online"}>${c.online.length}</span></h2>
          ${c.online.length === 0 ? html`<p class="side-empty">Nobody else is online.</p>` : nothing}
          <ul>
            ${repeat(
              c.online,
              (u) => u.toLowerCase(),
              (u) => html`<li>
                <button class="item" part="online-item" data-user=${u} aria-label=${`Message ${u}`} @click=${() => this.#go({ kind: "dm", peer: u })}>
                  ${avatar(u, true, true)}
                  <span class="label">${u}</span>
                </button>
              </li>`,
            )}
          </ul>
        </section>
      </div>
      <div class="me" part="account">
        ${avatar(c.me ?? "?", c.connection === "connected")}
        <div class="who">
          <strong data-me>${c.me}</strong>
          <span>${c.connection === "connected" ? "Online" : c.connection === "connecting" ? "Reconnecting…" : "Offline"}</span>
        </div>
        <button class="btn ghost small" part="button logout-button" @click=${this.#onLogout}>${icons.logoutIcon} Log out</button>
      </div>
    </nav>`;
  }

  #renderStatus(): TemplateResult {
    const state = this.chat.connection;
    const label = state === "connected" ? "Connected" : state === "connecting" ? "Connecting" : "Offline";
    return html`<span class="status ${state}" part="connection-status" data-state=${state} title=${`Connection: ${label}`}>${label}</span>`;
  }

  // ---- main pane ----------------------------------------------------------------------------------------

  #renderHeader(): TemplateResult {
    const c = this.chat;
    const room = c.activeRoom;
    const dm = c.activeDirect;
    const menu = html`<button class="btn ghost icon menu-btn" part="button" aria-label="Open rooms and people" aria-expanded=${this._sidebarOpen ? "true" : "false"} @click=${() => (this._sidebarOpen = !this._sidebarOpen)}>
      ${icons.menuIcon}
    </button>`;
    if (room !== undefined) {
      const copied = this._copied?.code === room.code;
      return html`<header class="conv-head" part="conversation-header">
        ${menu}
        <div class="conv-title">
          <h1 id="conv-title"><span class="muted" aria-hidden="true">#</span> ${roomTitle(room)}</h1>
          <span class="meta" data-member-count=${room.memberCount}>${plural(room.memberCount, "member")}</span>
        </div>
        <button class="code-chip" part="room-code copy-button" data-code=${room.code} aria-label=${`Room code ${room.code}. Copy it`} title="Copy the room code" @click=${() => this.#copy(room.code)}>
          ${room.code} ${copied ? icons.checkIcon : icons.copyIcon}
        </button>
        <button
          class="btn ghost small members-btn"
          part="button members-button"
          aria-label=${`Members: ${room.memberCount}`}
          aria-expanded=${this._membersOpen ? "true" : "false"}
          @click=${() => (this._membersOpen = !this._membersOpen)}
        >
          ${icons.usersIcon} <span data-count>${room.memberCount}</span>
        </button>
        <button class="btn ghost small" part="button leave-button" aria-label=${`Leave ${roomTitle(room)}`} @click=${() => this.#leave(room)}>
          ${icons.leaveIcon}<span class="hide-narrow">Leave</span>
        </button>
      </header>`;
    }
    if (dm !== undefined) {
      const online = c.isOnline(dm.peer);
      return html`<header class="conv-head" part="conversation-header">
        ${menu} ${avatar(dm.peer, online)}
        <div class="conv-title">
          <h1 id="conv-title">${dm.peer}</h1>
          <span class="meta">${online ? "Online" : "Offline"} · direct messages</span>
        </div>
      </header>`;
    }
    return html`<header class="conv-head" part="conversation-header">
      ${menu}
      <div class="conv-title"><h1 id="conv-title">Start a conversation</h1></div>
    </header>`;
  }

  #renderBanner(): TemplateResult | typeof nothing {
    const b = this.chat.banner;
    if (b === undefined) return nothing;
    const text = b.retryAtMs !== undefined ? reconnectLine(b.retryAtMs, this._now) : b.text;
    return html`<div class="banner ${b.tone}" part="banner" data-tone=${b.tone}>
      <span class="text">${text}</span>
      ${b.canReconnect ? html`<button class="btn small" part="button" @click=${() => this.chat.reconnectNow()}>Reconnect</button>` : nothing}
      ${b.dismissible
        ? html`<button class="btn ghost small icon" part="button" aria-label="Dismiss notice" @click=${() => this.chat.dismissBanner()}>${icons.closeIcon}</button>`
        : nothing}
    </div>`;
  }

  #renderLobby(): TemplateResult {
    const c = this.chat;
    return html`<div class="lobby" part="lobby">
      <div class="lobby-inner">
        <div>
          <h2 style="font-size:22px">Hi ${c.me}</h2>
          <p class="lead">Create a room and share its code, or join one with a code someone gave you.</p>
        </div>
        <div class="cards">
          <form class="card" aria-labelledby="create-h" @submit=${this.#onCreate}>
            <h2 id="create-h">Create a room</h2>
            <label class="field">Room name <input class="input" part="input" name="name" maxlength="64" placeholder="e.g. Friday standup" autocomplete="off" /></label>
            <label class="check"><input type="checkbox" name="persistent" /> Public and persistent (listed for everyone)</label>
            ${this._createError ? html`<p class="error" role="alert">${this._createError}</p>` : nothing}
            <button class="btn primary" part="button" type="submit">Create room</button>
          </form>
          <form class="card" aria-labelledby="join-h" @submit=${this.#onJoin}>
            <h2 id="join-h">Join with a code</h2>
            <label class="field"
              >Room code
              <input class="input code-input" part="input" name="code" maxlength="16" placeholder="K7QX2M" autocomplete="off" spellcheck="false" autocapitalize="characters" required
            /></label>
            ${this._joinError ? html`<p class="error" role="alert">${this._joinError}</p>` : nothing}
            <button class="btn primary" part="button" type="submit">Join room</button>
          </form>
        </div>
        <section aria-labelledby="public-h">
          <div class="section-head">
            <h2 id="public-h">Public rooms</h2>
            <button class="btn ghost small" part="button" @click=${() => c.refreshPublicRooms()}>${icons.refreshIcon} Refresh</button>
          </div>
          ${c.publicRooms.length === 0
            ? html`<p class="muted">${c.publicRoomsLoaded ? "No public rooms yet. Create one above." : "Loading…"}</p>`
            : html`<ul class="public-list" part="public-rooms">
                ${c.publicRooms.map((s) => {
                  const code = s.room?.code ?? "";
                  const name = s.room?.name || code;
                  const joined = c.rooms.has(code);
                  return html`<li data-code=${code}>
                    <span class="hash muted" aria-hidden="true">#</span>
                    <span class="name">${name}</span>
                    <span class="count">${plural(s.memberCount, "person", "people")} here</span>
                    <button class="btn small" part="button" aria-label=${`${joined ? "Open" : "Join"} ${name}`} @click=${() => this.#joinPublic(code)}>${joined ? "Open" : "Join"}</button>
                  </li>`;
                })}
              </ul>`}
        </section>
      </div>
    </div>`;
  }

  #renderConversation(): TemplateResult {
    const c = this.chat;
    const room = c.activeRoom;
    const dm = c.activeDirect;
    const conv: RoomView | DirectView | undefined = room ?? dm;
    if (conv === undefined) return this.#renderLobby();
    const t = conv.timeline;
    const title = room !== undefined ? `#${roomTitle(room)}` : (dm?.peer ?? "");
    const showShare = room !== undefined && t.loaded && t.messageCount === 0;
    return html`<div class="timeline" part="timeline" role="log" aria-live="off" aria-label=${`Messages in ${title}`} tabindex="0">
        ${t.loaded && t.hasMore && t.messageCount > 0
          ? html`<div class="older">
              <button class="btn small" part="button" ?disabled=${conv.loadingOlder} @click=${this.#onLoadOlder}>${conv.loadingOlder ? "Loading…" : "Load earlier messages"}</button>
            </div>`
          : nothing}
        ${showShare ? this.#renderShare(room) : nothing}
        ${dm !== undefined && t.loaded && t.messageCount === 0
          ? html`<div class="share"><h2>Say hello to ${dm.peer}</h2><p>Direct messages are kept, so ${dm.peer} sees them even when offline now.</p></div>`
          : nothing}
        <ol class="entries">
          ${repeat(
            t.entries,
            (e) => e.key,
            (e, i) => this.#renderEntry(t, e, i),
          )}
        </ol>
      </div>
      <div class="typing" part="typing" aria-live="polite">${room !== undefined ? typingLine(room.typing) : ""}</div>
      ${this._sendError ? html`<p class="error composer-error" role="alert">${this._sendError}</p>` : nothing}
      <form class="composer" part="composer" @submit=${this.#onComposerSubmit}>
        <label class="sr-only" for="composer-input">Message ${title}</label>
        <textarea
          id="composer-input"
          part="input composer-input"
          rows="1"
          placeholder=${`Message ${title}`}
          autocomplete="off"
          enterkeyhint="send"
          @keydown=${this.#onComposerKeydown}
          @input=${this.#onComposerInput}
          @blur=${() => this.chat.stopTyping()}
        ></textarea>
        <button class="btn primary icon" part="button send-button" type="submit" aria-label="Send message" title="Send (Enter)">${icons.sendIcon}</button>
      </form>`;
  }

  #renderShare(room: RoomView): TemplateResult {
    const copied = this._copied?.code === room.code ? this._copied.how : undefined;
    return html`<div class="share" part="share">
      <h2>${this.chat.justCreated === room.code ? "Your room is ready" : "No messages yet"}</h2>
      <p>Share this code so others can join:</p>
      <div class="code-big" part="room-code" data-share-code>${room.code}</div>
      <button class="btn primary" part="button copy-button" aria-label=${`Copy room code ${room.code}`} @click=${() => this.#copy(room.code)}>
        ${copied === "copied" ? icons.checkIcon : icons.copyIcon} ${copied === "copied" ? "Copied" : copied === "selected" ? "Selected: press Ctrl+C" : "Copy code"}
      </button>
    </div>`;
  }

  #renderEntry(t: Timeline, e: Entry, i: number): TemplateResult {
    if (e.kind === "notice") {
      return html`<li class="notice ${e.tone}" part="notice" data-notice>${e.text}</li>`;
    }
    const prev = t.entries[i - 1];
    const grouped =
      prev !== undefined && prev.kind === "message" && prev.own === e.own && prev.sender.toLowerCase() === e.sender.toLowerCase() && e.sentAtMs - prev.sentAtMs < GROUP_WINDOW_MS;
    const next = t.entries[i + 1];
    const lastOfGroup = !(next !== undefined && next.kind === "message" && next.own === e.own && next.sender.toLowerCase() === e.sender.toLowerCase());
    const parts = e.own ? "message message-own" : "message";
    return html`<li
      class="msg ${e.own ? "own" : ""} ${grouped ? "cont" : ""}"
      part=${parts}
      data-status=${e.status}
      data-sender=${e.sender}
      data-seq=${e.seq === undefined ? "" : String(e.seq)}
    >
      <span class="avatar-slot">${!e.own && lastOfGroup ? avatar(e.sender, false) : nothing}</span>
      <div class="body">
        ${grouped
          ? nothing
          : html`<div class="meta">
              <span class="sender">${e.own ? "You" : e.sender}</span>
              <time datetime=${new Date(e.sentAtMs).toISOString()} title=${fullTime(e.sentAtMs)}>${shortTime(e.sentAtMs, this._now)}</time>
            </div>`}
        <div class="bubble" part="bubble" data-text>${e.text}</div>
        ${e.own ? this.#renderDelivery(t, e) : nothing}
      </div>
    </li>`;
  }

  #renderDelivery(t: Timeline, e: MessageEntry): TemplateResult | typeof nothing {
    if (e.status === "pending") return html`<span class="delivery" part="message-status" data-delivery="pending">${icons.clockIcon} Sending…</span>`;
    if (e.status === "failed") {
      return html`<span class="delivery failed" part="message-status" data-delivery="failed" role="alert"
        >${icons.alertIcon} Not sent: ${e.error}
        <button class="btn ghost small" part="button" @click=${() => this.chat.retry(e.clientMessageId, e.text)}>Retry</button></span
      >`;
    }
    // "Sent" only under the newest own message, like most chat apps: the rest are sent too.
    const lastOwn = [...t.entries].reverse().find((x) => x.kind === "message" && x.own);
    if (lastOwn !== e) return nothing;
    return html`<span class="delivery" part="message-status" data-delivery="sent">${icons.checkIcon} Sent</span>`;
  }

  #renderMembers(room: RoomView): TemplateResult {
    const c = this.chat;
    return html`<aside class="members" part="members" aria-labelledby="members-h">
      <div class="members-head">
        <h2 id="members-h">Members <span class="muted" data-member-count=${room.memberCount}>${room.memberCount}</span></h2>
        <button class="btn ghost small icon close-members" part="button" aria-label="Close member list" @click=${() => (this._membersOpen = false)}>${icons.closeIcon}</button>
      </div>
      <ul aria-label=${`${plural(room.memberCount, "member")} in ${roomTitle(room)}`}>
        ${repeat(
          room.members,
          (m) => m.toLowerCase(),
          (m) => html`<li data-member=${m}>
            ${avatar(m, true, true)}
            <span class="label">${m}</span>
            ${c.isMe(m) ? html`<span class="muted" style="font-size:12px">you</span>` : nothing}
          </li>`,
        )}
      </ul>
    </aside>`;
  }

  // ---- handlers -----------------------------------------------------------------------------------------

  #setAuthMode(mode: "login" | "register"): void {
    this._authMode = mode;
    this.chat.authError = undefined;
    this.requestUpdate();
  }

  #onAuthSubmit = async (e: SubmitEvent): Promise<void> => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    const username = String(data.get("username") ?? "").trim();
    const password = String(data.get("password") ?? "");
    if (this._authMode === "login") await this.chat.login(username, password);
    else await this.chat.register(username, password);
    if (this.chat.phase === "ready") {
      await this.updateComplete;
      this.renderRoot.querySelector<HTMLInputElement>('.lobby input[name="name"]')?.focus();
    }
  };

  #onLogout = async (): Promise<void> => {
    await this.chat.logout();
    this._sidebarOpen = false;
    this._membersOpen = false;
    this._sendError = undefined;
    this._authMode = "login";
  };

  #onCreate = async (e: SubmitEvent): Promise<void> => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const data = new FormData(form);
    const name = String(data.get("name") ?? "").trim();
    const persistent = data.get("persistent") !== null;
    if (persistent && name === "") {
      this._createError = "A public room needs a name.";
      return;
    }
    this._createError = await this.chat.createRoom(name, persistent);
    if (this._createError === undefined) this.#afterOpen();
  };

  #onJoin = async (e: SubmitEvent): Promise<void> => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const code = String(new FormData(form).get("code") ?? "");
    this._joinError = await this.chat.joinRoom(code);
    if (this._joinError === undefined) this.#afterOpen();
  };

  async #joinPublic(code: string): Promise<void> {
    if (this.chat.rooms.has(code)) {
      this.#go({ kind: "room", code });
      return;
    }
    this._joinError = await this.chat.joinRoom(code);
    if (this._joinError === undefined) this.#afterOpen();
  }

  async #leave(room: RoomView): Promise<void> {
    this._membersOpen = false;
    await this.chat.leaveRoom(room.code);
  }

  #go(active: Parameters<ChatController["open"]>[0]): void {
    this.chat.open(active);
    this._sidebarOpen = false;
    this._sendError = undefined;
    this._createError = undefined;
    this._joinError = undefined;
    if (active.kind !== "lobby") this.#afterOpen();
  }

  /** A conversation was opened: put the cursor in its composer. */
  async #afterOpen(): Promise<void> {
    this._sidebarOpen = false;
    await this.updateComplete;
    this.#composerEl()?.focus();
  }

  #onComposerKeydown = (e: KeyboardEvent): void => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.#submitComposer();
    }
  };

  #onComposerInput = (e: InputEvent): void => {
    this.chat.composing((e.currentTarget as HTMLTextAreaElement).value);
    if (this._sendError) this._sendError = undefined;
  };

  #onComposerSubmit = (e: SubmitEvent): void => {
    e.preventDefault();
    this.#submitComposer();
  };

  #submitComposer(): void {
    const input = this.#composerEl();
    if (input === null) return;
    const text = input.value;
    if (text.trim() === "") return;
    const bytes = utf8Length(text);
    if (bytes > MAX_TEXT_BYTES) {
      this._sendError = `That message is too long: ${bytes} bytes, the limit is ${MAX_TEXT_BYTES}.`;
      return;
    }
    const c = this.chat;
    const target = c.active;
    const error = c.send(text);
    if (error !== undefined) {
      this._sendError = error;
      return;
    }
    input.value = "";
    this._sendError = undefined;
    this.#stickToBottom = true;
    this.dispatchEvent(
      new CustomEvent("chat-message-send", {
        detail: target.kind === "room" ? { room: target.code } : target.kind === "dm" ? { peer: target.peer } : {},
        bubbles: true,
        composed: true,
      }),
    );
  }

  #onLoadOlder = async (): Promise<void> => {
    const el = this.#timelineEl();
    const before = el === null ? undefined : { height: el.scrollHeight, top: el.scrollTop };
    this.#stickToBottom = false;
    await this.chat.loadOlder();
    await this.updateComplete;
    const after = this.#timelineEl();
    if (after !== null && before !== undefined) after.scrollTop = after.scrollHeight - before.height + before.top;
  };

  #onAppKeydown = (e: KeyboardEvent): void => {
    if (e.key === "Escape" && (this._sidebarOpen || this._membersOpen)) {
      this._sidebarOpen = false;
      this._membersOpen = false;
    }
  };

  async #copy(code: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(code);
      this._copied = { code, how: "copied" };
    } catch {
      // No clipboard access (permissions, insecure page): select the code so Ctrl+C copies it.
      const el = this.renderRoot.querySelector("[data-share-code]");
      if (el !== null) globalThis.getSelection?.()?.selectAllChildren(el);
      this._copied = { code, how: "selected" };
    }
    setTimeout(() => {
      if (this._copied?.code === code) this._copied = undefined;
    }, 2500);
  }

  // ---- helpers ------------------------------------------------------------------------------------------

  #timelineEl(): HTMLElement | null {
    return this.renderRoot?.querySelector?.(".timeline") ?? null;
  }

  #composerEl(): HTMLTextAreaElement | null {
    return this.renderRoot.querySelector("#composer-input");
  }

  #conversationKey(): string {
    const a = this.chat.active;
    return a.kind === "room" ? `r:${a.code}` : a.kind === "dm" ? `d:${a.peer.toLowerCase()}` : "lobby";
  }

  #emitChanges(): void {
    const c = this.chat;
    const me = c.phase === "ready" ? c.me : undefined;
    if (me !== this.#lastMe) {
      if (me !== undefined) this.dispatchEvent(new CustomEvent("chat-login", { detail: { username: me }, bubbles: true, composed: true }));
      else if (this.#lastMe !== undefined) this.dispatchEvent(new CustomEvent("chat-logout", { detail: {}, bubbles: true, composed: true }));
      this.#lastMe = me;
    }
    if (c.connection !== this.#lastConnection) {
      this.#lastConnection = c.connection;
      this.dispatchEvent(new CustomEvent("chat-connection-change", { detail: { state: c.connection }, bubbles: true, composed: true }));
    }
  }
}

const roomTitle = (r: { name: string; code: string }): string => r.name || `Room ${r.code}`;

const avatar = (name: string, online: boolean, small = false): TemplateResult =>
  html`<span class="avatar ${small ? "small" : ""} ${online ? "online" : ""}" style=${styleMap({ "--_hue": String(hueOf(name)) })} aria-hidden="true">${initial(name)}</span>`;
