// <chat-app>: the whole chat in one drop-in element: sign-in, rooms, timeline, members, typing, DMs and
// connection notices. State lives in ChatController (the SDK behind it); this element lays out the elements
// below, hands them the state and turns their requests into controller calls. Every piece of user text is
// rendered through Lit text bindings by those elements: nothing from the server is parsed as HTML.
// A little over 400 lines: about 90 of them are the class JSDoc that lists the public parts and CSS properties.
import { html, nothing, type PropertyValues, type TemplateResult } from "lit";
import type { UploadedFile, UploadOptions } from "../sdk/index.ts";
import { styles } from "./chat-app.styles.ts";
import { ChatBanner } from "./chat-banner.ts";
import { ChatComposer } from "./chat-composer.ts";
import { ChatController } from "./chat-controller.ts";
import { ChatConversationHeader } from "./chat-conversation-header.ts";
import { ChatConversationStart } from "./chat-conversation-start.ts";
import { ChatElement } from "./chat-element.ts";
import { ChatLobby } from "./chat-lobby.ts";
import { ChatLogin } from "./chat-login.ts";
import { ChatMemberList } from "./chat-member-list.ts";
import { ChatSidebar } from "./chat-sidebar.ts";
import { type Active, conversationKey, roomTitle } from "./chat-state.ts";
import { ChatTimeline } from "./chat-timeline.ts";
import { ChatToasts } from "./chat-toasts.ts";
import type { ChatEvent } from "./events.ts";
import { CopyFeedback } from "./copy-feedback.ts";
import { EXPORT } from "./exported-parts.ts";
import { inviteLink } from "./invite.ts";
import { typingLine } from "./format.ts";

/** The WebSocket endpoint of the page's own server: ws(s)://<host>/ws. */
export const defaultServerUrl = (): string => {
  const loc = globalThis.location;
  if (loc === undefined) return "ws://localhost:8080/ws";
  return `${loc.protocol === "https:" ? "wss:" : "ws:"}//${loc.host}/ws`;
};

/**
 * A complete chat client as one element: `<chat-app server="ws://host:8080/ws"></chat-app>`.
 *
 * @fires {CustomEvent<ChatLoginDetail>} chat-login - `{ username }` after a sign-in, registration or resumed session.
 * @fires {CustomEvent<ChatLogoutDetail>} chat-logout - `{}` after the signed-in session ended (logged out here or elsewhere, or the server changed).
 * @fires {CustomEvent<ChatConnectionChangeDetail>} chat-connection-change - `{ state }` ("disconnected" | "connecting" | "connected") when the connection changes.
 * @fires {CustomEvent<ChatMessageSendDetail>} chat-message-send - `{ room, clientMessageId }` or `{ peer, clientMessageId }` when a message is handed to the server.
 *
 * @csspart app - the signed-in layout (grid of sidebar, main pane, member list)
 * @csspart auth - the sign-in screen (and "Connecting…")
 * @csspart auth-form - the sign-in form
 * @csspart sidebar - rooms, direct messages and online users
 * @csspart room-item - a room in the sidebar
 * @csspart dm-item - a DM conversation in the sidebar
 * @csspart online-item - an online user in the sidebar
 * @csspart unread-badge - a conversation's unread count in the sidebar
 * @csspart mention-badge - a conversation's count of unread @mentions of the user
 * @csspart account - the signed-in user at the bottom of the sidebar
 * @csspart notifications-button - the desktop-notifications switch
 * @csspart logout-button - Log out
 * @csspart main - the conversation pane
 * @csspart conversation-header - the conversation's header
 * @csspart room-code - the room code (header chip and share card)
 * @csspart copy-button - copy-code buttons
 * @csspart temporary-note - a temporary room's note on when it disappears
 * @csspart invite-button - "Invite link" / "Copy invite link"
 * @csspart members-button - opens the member list on narrower layouts
 * @csspart leave-button - leaves the room
 * @csspart banner - the connection notice
 * @csspart connection-status - the status pill
 * @csspart lobby - create / join / public rooms
 * @csspart public-rooms - the list of public rooms
 * @csspart share - the share card of an empty room
 * @csspart timeline - the message list
 * @csspart message - a message (also message-own on the user's own)
 * @csspart message-own - the user's own message
 * @csspart bubble - a message's text
 * @csspart message-status - "Sending…" / "Sent" / "Not sent"
 * @csspart notice - a notice in the timeline
 * @csspart day-separator - "Today", "Yesterday" or a date in the timeline
 * @csspart new-divider - "New" above the first message that came while the user was elsewhere
 * @csspart mention - an @mention of the user in a message
 * @csspart jump-button - "N new messages" / "Jump to latest" when scrolled up
 * @csspart reply-quote - the quote of the original above a reply
 * @csspart edited - the "(edited)" mark of an edited message
 * @csspart tombstone - "Message deleted" in place of a deleted message's text
 * @csspart reactions - the reaction chips under a message
 * @csspart reaction - one reaction chip (emoji and count; pressed when the user reacted)
 * @csspart actions-button - a message's "Message actions" button
 * @csspart actions-menu - a message's actions (reply, react, edit, delete)
 * @csspart attachments - the files under a message
 * @csspart attachment-image - an image's thumbnail (a button that opens the full image)
 * @csspart attachment-file - a file's chip with its name, size and Download
 * @csspart image-dialog - the dialog showing a full image
 * @csspart reply-bar - "Replying to X: …" above the message field
 * @csspart typing - the "X is typing…" line
 * @csspart composer - the message form
 * @csspart composer-input - the message field
 * @csspart send-button - the Send button
 * @csspart attach-button - the Attach files button
 * @csspart uploads - the files waiting to be sent, with progress and Cancel
 * @csspart members - the member list
 * @csspart toast - an error notice
 * @csspart button - every button
 * @csspart input - every text field
 *
 * @cssproperty --chat-accent - accent colour (buttons, own messages, focus)
 * @cssproperty --chat-accent-fg - text on the accent colour
 * @cssproperty --chat-accent-strong - the accent on hover and for the current item
 * @cssproperty --chat-accent-soft - the accent's tint behind the current item and the code chip
 * @cssproperty --chat-accent-text - accent-coloured text on the page's surfaces (room codes, the current room)
 * @cssproperty --chat-danger-text - error text on the page's surfaces
 * @cssproperty --chat-bg - background
 * @cssproperty --chat-fg - text colour
 * @cssproperty --chat-muted - secondary text
 * @cssproperty --chat-surface - sidebar and panels
 * @cssproperty --chat-raised - cards and inputs
 * @cssproperty --chat-border - lines
 * @cssproperty --chat-own-bg - own message bubbles
 * @cssproperty --chat-own-fg - text in own bubbles
 * @cssproperty --chat-other-bg - others' message bubbles
 * @cssproperty --chat-other-fg - text in others' bubbles
 * @cssproperty --chat-danger - errors
 * @cssproperty --chat-success - online, connected
 * @cssproperty --chat-warning - connection trouble
 * @cssproperty --chat-font - font family
 * @cssproperty --chat-mono-font - room codes
 * @cssproperty --chat-radius - bubble radius
 * @cssproperty --chat-mention-bg - the highlight behind an @mention of the user
 * @cssproperty --chat-sidebar-width - sidebar column width
 * @cssproperty --chat-members-width - member list column width
 *
 * @tagname chat-app
 */
export class ChatApp extends ChatElement {
  static override dependencies = {
    "chat-login": ChatLogin,
    "chat-sidebar": ChatSidebar,
    "chat-conversation-header": ChatConversationHeader,
    "chat-banner": ChatBanner,
    "chat-lobby": ChatLobby,
    "chat-timeline": ChatTimeline,
    "chat-conversation-start": ChatConversationStart,
    "chat-composer": ChatComposer,
    "chat-member-list": ChatMemberList,
    "chat-toasts": ChatToasts,
  };

  static override properties = {
    server: { type: String },
    _authMode: { state: true, attribute: false },
    _sidebarOpen: { state: true, attribute: false },
    _membersOpen: { state: true, attribute: false },
    _createError: { state: true, attribute: false },
    _joinError: { state: true, attribute: false },
    _sendError: { state: true, attribute: false },
  };

  static override styles = styles;

  /** WebSocket URL of the chat server; default: /ws on the page's own host. */
  declare server: string;
  declare private _authMode: "login" | "register";
  declare private _sidebarOpen: boolean;
  declare private _membersOpen: boolean;
  declare private _createError: string;
  declare private _joinError: string;
  declare private _sendError: string;

  /** The state this element renders, and the calls that change it. */
  readonly chat: ChatController;
  /** The last render showed the signed-in app. */
  #shownReady = false;
  readonly #copy = new CopyFeedback(this);

  constructor() {
    super();
    this.server = "";
    this._authMode = "login";
    this._sidebarOpen = false;
    this._membersOpen = false;
    this._createError = "";
    this._joinError = "";
    this._sendError = "";
    this.chat = new ChatController(this, () => this.serverUrl);
  }

  /** The server this element talks to. */
  get serverUrl(): string {
    return this.server.trim() || defaultServerUrl();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("server") && this.hasUpdated) this.chat.restart();
    // Signed out (here, or the session ended elsewhere): whoever was signed in has an account, so offer
    // the log-in form rather than the sign-up one they may have used.
    if (this.chat.phase !== "ready" && this.#shownReady) this._authMode = "login";
    this.#shownReady = this.chat.phase === "ready";
  }

  protected override updated(): void {
    // The unread total in the page's title: "(3) protochat".
    this.chat.attention.showUnread(this.chat.phase === "ready" ? this.chat.unreadTotal : 0);
  }

  protected override render(): TemplateResult {
    const c = this.chat;
    const body =
      c.phase === "starting"
        ? html`<div class="center" part="auth">
            <div class="auth-card" style="justify-items:center;text-align:center">
              <div class="spinner" aria-hidden="true"></div>
              <p>Connecting to the chat…</p>
            </div>
          </div>`
        : c.phase === "auth"
          ? html`<chat-login
              exportparts=${EXPORT.login}
              .mode=${this._authMode}
              .error=${c.authError ?? ""}
              .busy=${c.authBusy}
              .canRetry=${c.resumeFailed}
              .server=${this.serverUrl}
              .invite=${c.invite ?? ""}
              @chat-login-submit=${(e: ChatEvent<"chat-login-submit">) => void this.#onLoginSubmit(e)}
              @chat-login-mode-change=${this.#onLoginMode}
              @chat-reconnect-request=${() => void this.chat.reconnectNow()}
            ></chat-login>`
          : this.#renderApp();
    // One polite live region announces new messages from others, join/leave and connection notices; the
    // timeline itself is a log that is not live, so switching rooms does not read out a whole history.
    return html`${body}
      <div class="sr-only" role="status" aria-live="polite" aria-atomic="true" data-announcement>${c.announcement}</div>`;
  }

  #renderApp(): TemplateResult {
    const c = this.chat;
    const room = c.activeRoom;
    const dm = c.activeDirect;
    const classes = [
      "app",
      room !== undefined ? "with-members" : "",
      this._sidebarOpen ? "sidebar-open" : "",
      this._membersOpen && room !== undefined ? "members-open" : "",
    ];
    const inLobby = c.active.kind === "lobby" || (room === undefined && dm === undefined);
    return html`<div class=${classes.join(" ")} part="app" @keydown=${this.#onAppKeydown}>
      <button class="scrim" tabindex="-1" aria-hidden="true" @click=${this.#closePanels}></button>
      <chat-sidebar
        exportparts=${EXPORT.sidebar}
        .rooms=${[...c.rooms.values()]}
        .dms=${[...c.dms.values()]}
        .online=${c.online}
        .active=${c.active}
        .me=${c.me ?? ""}
        .connection=${c.connection}
        .notifications=${c.notifications}
        @chat-notifications-toggle=${(e: ChatEvent<"chat-notifications-toggle">) => void c.setNotifications(e.detail.on)}
        @chat-navigate=${(e: ChatEvent<"chat-navigate">) => this.#go(e.detail.to)}
        @chat-logout-request=${() => void this.#onLogout()}
      ></chat-sidebar>
      <main class="main" part="main">
        <chat-conversation-header
          exportparts=${EXPORT.header}
          .code=${inLobby ? "" : (room?.code ?? "")}
          .name=${room?.name ?? ""}
          .memberCount=${room?.memberCount ?? 0}
          .peer=${inLobby ? "" : (dm?.peer ?? "")}
          .peerOnline=${dm !== undefined && c.isOnline(dm.peer)}
          .stale=${c.connection !== "connected"}
          .persistent=${room?.persistent ?? true}
          .graceMs=${c.roomGraceMs}
          .copied=${this.#copy.outcome(room?.code, "code") === "copied"}
          .inviteCopied=${this.#copy.outcome(room?.code, "link") === "copied"}
          @chat-invite-copy=${(e: ChatEvent<"chat-invite-copy">) => void this.#onCopyInvite(e.detail.code)}
          .sidebarOpen=${this._sidebarOpen}
          .membersOpen=${this._membersOpen}
          @chat-sidebar-toggle=${() => (this._sidebarOpen = !this._sidebarOpen)}
          @chat-members-toggle=${() => (this._membersOpen = !this._membersOpen)}
          @chat-code-copy=${(e: ChatEvent<"chat-code-copy">) => void this.#onCopy(e.detail.code)}
          @chat-room-leave-request=${(e: ChatEvent<"chat-room-leave-request">) => void this.#onLeave(e.detail.code)}
        ></chat-conversation-header>
        <chat-banner
          exportparts=${EXPORT.banner}
          .banner=${c.banner}
          @chat-reconnect-request=${() => void this.chat.reconnectNow()}
          @chat-retry-now=${() => this.chat.retryNow()}
          @chat-banner-dismiss=${() => this.chat.dismissBanner()}
        ></chat-banner>
        ${inLobby ? this.#renderLobby() : this.#renderConversation()}
      </main>
      ${
        room !== undefined
          ? html`<chat-member-list
              exportparts=${EXPORT.members}
              .members=${room.members}
              .memberCount=${room.memberCount}
              .roomTitle=${roomTitle(room)}
              .me=${c.me ?? ""}
              .stale=${c.connection !== "connected"}
              @chat-members-close=${() => (this._membersOpen = false)}
            ></chat-member-list>`
          : nothing
      }
      <chat-toasts
        exportparts=${EXPORT.toasts}
        .toasts=${c.toasts}
        @chat-toast-dismiss=${(e: ChatEvent<"chat-toast-dismiss">) => c.dismissToast(e.detail.id)}
      ></chat-toasts>
    </div>`;
  }

  #renderLobby(): TemplateResult {
    const c = this.chat;
    return html`<chat-lobby
      exportparts=${EXPORT.lobby}
      .me=${c.me ?? ""}
      .publicRooms=${c.publicRooms}
      .publicRoomsLoaded=${c.publicRoomsLoaded}
      .joined=${new Set(c.rooms.keys())}
      .createError=${this._createError}
      .joinError=${this._joinError}
      @chat-room-create-request=${(e: ChatEvent<"chat-room-create-request">) => void this.#onCreate(e.detail.name, e.detail.persistent)}
      @chat-room-join-request=${(e: ChatEvent<"chat-room-join-request">) => void this.#onJoin(e.detail.code)}
      @chat-public-rooms-refresh=${() => void this.chat.refreshPublicRooms()}
    ></chat-lobby>`;
  }

  #renderConversation(): TemplateResult {
    const c = this.chat;
    const room = c.activeRoom;
    const dm = c.activeDirect;
    const conv = room ?? dm;
    if (conv === undefined) return this.#renderLobby();
    const t = conv.timeline;
    const title = room !== undefined ? `#${roomTitle(room)}` : (dm?.peer ?? "");
    const empty = t.loaded && t.messageCount === 0;
    const copied = this.#copy.outcome(room?.code, "code");
    return html`<chat-timeline
        exportparts=${EXPORT.timeline}
        .timeline=${t}
        .revision=${t.revision}
        .label=${`Messages in ${title}`}
        .conversation=${conversationKey(c.active)}
        .loadingOlder=${conv.loadingOlder}
        .me=${c.me ?? ""}
        .fetchFile=${this.#fetchFile}
        @chat-load-older=${() => void this.chat.loadOlder()}
        @chat-message-retry=${(e: ChatEvent<"chat-message-retry">) => void this.chat.retry(e.detail.clientMessageId, e.detail.text)}
        @chat-message-reply=${this.#onReply}
        @chat-message-edit=${(e: ChatEvent<"chat-message-edit">) => this.chat.editMessage(e.detail.seq, e.detail.text)}
        @chat-message-delete=${(e: ChatEvent<"chat-message-delete">) => this.chat.deleteMessage(e.detail.seq)}
        @chat-message-react=${(e: ChatEvent<"chat-message-react">) => this.chat.react(e.detail.seq, e.detail.emoji, e.detail.add)}
      >
        ${
          empty
            ? html`<chat-conversation-start
                exportparts=${EXPORT.start}
                .code=${room?.code ?? ""}
                .peer=${dm?.peer ?? ""}
                .fresh=${room !== undefined && c.justCreated === room.code}
                .copied=${copied}
                .inviteCopied=${this.#copy.outcome(room?.code, "link") === "copied"}
                @chat-invite-copy=${(e: ChatEvent<"chat-invite-copy">) => void this.#onCopyInvite(e.detail.code)}
                @chat-code-copy=${(e: ChatEvent<"chat-code-copy">) => void this.#onCopy(e.detail.code)}
              ></chat-conversation-start>`
            : nothing
        }
      </chat-timeline>
      <chat-composer
        exportparts=${EXPORT.composer}
        .label=${title}
        .typing=${room !== undefined ? typingLine(room.typing) : ""}
        .error=${this._sendError}
        .replyTo=${t.replyTo}
        .uploader=${this.#uploader}
        @chat-reply-cancel=${() => this.chat.replyTo(undefined)}
        @chat-composer-submit=${this.#onComposerSubmit}
        @chat-composer-input=${(e: ChatEvent<"chat-composer-input">) => {
          this.chat.composing(e.detail.text);
          this._sendError = "";
        }}
        @chat-composer-blur=${() => this.chat.stopTyping()}
      ></chat-composer>`;
  }

  // ---- requests from the elements -----------------------------------------------------------------------

  async #onLoginSubmit(e: ChatEvent<"chat-login-submit">): Promise<void> {
    const { mode, username, password } = e.detail;
    if (mode === "login") await this.chat.login(username, password);
    else await this.chat.register(username, password);
    if (this.chat.phase !== "ready") return;
    // Signed in: the cursor goes to "Room name".
    await this.updateComplete;
    const lobby = this.renderRoot.querySelector<ChatLobby>("chat-lobby");
    await lobby?.updateComplete;
    lobby?.focusRoomName();
  }

  #onLoginMode = (e: ChatEvent<"chat-login-mode-change">): void => {
    this._authMode = e.detail.mode;
    this.chat.authError = undefined;
    this.requestUpdate();
  };

  async #onLogout(): Promise<void> {
    await this.chat.logout();
    this._sidebarOpen = false;
    this._membersOpen = false;
    this._sendError = "";
    this._authMode = "login";
  }

  async #onCreate(name: string, persistent: boolean): Promise<void> {
    if (persistent && name === "") {
      this._createError = "A public room needs a name.";
      return;
    }
    this._createError = (await this.chat.createRoom(name, persistent)) ?? "";
    if (this._createError === "") await this.#afterOpen();
  }

  async #onJoin(code: string): Promise<void> {
    if (this.chat.rooms.has(code)) {
      this.#go({ kind: "room", code });
      return;
    }
    this._joinError = (await this.chat.joinRoom(code)) ?? "";
    if (this._joinError === "") await this.#afterOpen();
  }

  async #onLeave(code: string): Promise<void> {
    this._membersOpen = false;
    await this.chat.leaveRoom(code);
  }

  /** Reply chosen on a message: the composer shows what is answered and gets the focus. */
  #onReply = (e: ChatEvent<"chat-message-reply">): void => {
    this.chat.replyTo({ seq: e.detail.seq, sender: e.detail.sender, text: e.detail.text });
    void this.updateComplete.then(() => this.renderRoot.querySelector<ChatComposer>("chat-composer")?.focus());
  };

  // Stable functions, so the elements given them do not re-render (or refetch) on every update.
  readonly #fetchFile = (path: string): Promise<Blob> => this.chat.download(path);
  readonly #uploader = (file: Blob, options: UploadOptions): Promise<UploadedFile> => this.chat.upload(file, options);

  #onComposerSubmit = (e: ChatEvent<"chat-composer-submit">): void => {
    const error = this.chat.send(e.detail.text, e.detail.attachments);
    if (error !== undefined) {
      // Cancelled: the composer keeps the text.
      e.preventDefault();
      this._sendError = error;
      return;
    }
    this._sendError = "";
    this.renderRoot.querySelector<ChatTimeline>("chat-timeline")?.stickToBottom();
  };

  async #onCopy(code: string): Promise<void> {
    // No clipboard access (permissions, insecure page): select the code so Ctrl+C copies it.
    const start = this.renderRoot.querySelector<ChatConversationStart>("chat-conversation-start");
    await this.#copy.copy(code, "code", code, () => (start?.selectCode(), start !== null));
  }

  /** Copies the room's invite link (see invite.ts); without clipboard access, shows it to copy by hand. */
  async #onCopyInvite(code: string): Promise<void> {
    const link = inviteLink(code);
    await this.#copy.copy(code, "link", link, () => (this.chat.toast(`Invite link (copy it): ${link}`), false));
  }

  #onAppKeydown = (e: KeyboardEvent): void => {
    if (e.key === "Escape" && (this._sidebarOpen || this._membersOpen)) this.#closePanels();
  };

  #closePanels = (): void => {
    this._sidebarOpen = false;
    this._membersOpen = false;
  };

  #go(to: Active): void {
    this.chat.open(to);
    this._sidebarOpen = false;
    this._sendError = "";
    this._createError = "";
    this._joinError = "";
    if (to.kind !== "lobby") void this.#afterOpen();
  }

  /** A conversation was opened: put the cursor in its composer. */
  async #afterOpen(): Promise<void> {
    this._sidebarOpen = false;
    await this.updateComplete;
    const composer = this.renderRoot.querySelector<ChatComposer>("chat-composer");
    await composer?.updateComplete;
    composer?.focus();
  }
}
