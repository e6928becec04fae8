// <chat-conversation-header>: the bar above a conversation: the phone menu button, the room's name and
// member count with its code chip (copies the code), Invite link, Members and Leave (asks first; a
// temporary room says how long it lasts once everyone has left); a DM's peer and whether they are online.
import { html, nothing, type PropertyValues, type TemplateResult } from "lit";
import { avatar } from "./avatar.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-conversation-header.styles.ts";
import { roomTitle } from "./chat-state.ts";
import { durationWords, plural, temporaryRoomLine } from "./format.ts";
import * as icons from "./icons.ts";

/**
 * Shows a room when `code` is set, else a DM when `peer` is set, else "Start a conversation".
 *
 * @fires chat-sidebar-toggle - `{}` from the menu button (narrow layouts).
 * @fires chat-members-toggle - `{}` from the Members button (layouts where the member list is a panel).
 * @fires chat-code-copy - `{ code }` from the room-code chip.
 * @fires chat-invite-copy - `{ code }` from "Invite link" (copy the room's invite link).
 * @fires chat-room-leave-request - `{ code }` when leaving is confirmed (Leave, then "Leave room").
 *
 * @csspart temporary-note - "Temporary room: it disappears … after everyone has left." under a temporary room's name
 * @csspart invite-button - "Invite link" (copies the room's invite link)
 * @csspart conversation-header - the bar
 * @csspart room-code - the code chip (also copy-button)
 * @csspart copy-button - the code chip
 * @csspart members-button - the Members button (also part button)
 * @csspart leave-button - the Leave button
 * @csspart button - every button
 *
 * @tagname chat-conversation-header
 */
export class ChatConversationHeader extends ChatElement {
  static override properties = {
    code: { type: String },
    name: { type: String },
    memberCount: { type: Number, attribute: "member-count" },
    peer: { type: String },
    peerOnline: { type: Boolean, attribute: "peer-online" },
    copied: { type: Boolean },
    sidebarOpen: { type: Boolean, attribute: "sidebar-open" },
    membersOpen: { type: Boolean, attribute: "members-open" },
    persistent: { type: Boolean },
    graceMs: { type: Number, attribute: "grace-ms" },
    inviteCopied: { type: Boolean, attribute: "invite-copied" },
    stale: { type: Boolean },
    _confirmLeave: { state: true, attribute: false },
  };

  static override styles = styles;

  /** The open room's code, or "". */
  declare code: string;
  /** The open room's name ("" for an unnamed room). */
  declare name: string;
  declare memberCount: number;
  /** The DM peer's name, or "". */
  declare peer: string;
  declare peerOnline: boolean;
  /** The code was just copied: the chip shows a check. */
  declare copied: boolean;
  /** For aria-expanded on the menu and Members buttons. */
  declare sidebarOpen: boolean;
  declare membersOpen: boolean;
  /** A public room (kept); false for a temporary one, which disappears `graceMs` after everyone left. */
  declare persistent: boolean;
  /** How long an empty temporary room survives (the server's AuthOk.room_grace_ms). */
  declare graceMs: number;
  /** The invite link was just copied: the button says so. */
  declare inviteCopied: boolean;
  /** The connection is down: the peer's presence is not known (grey dot). */
  declare stale: boolean;
  /** Leave was pressed: asking to confirm. */
  declare private _confirmLeave: boolean;

  constructor() {
    super();
    this.code = "";
    this.name = "";
    this.memberCount = 0;
    this.peer = "";
    this.peerOnline = false;
    this.copied = false;
    this.sidebarOpen = false;
    this.membersOpen = false;
    this.persistent = false;
    this.graceMs = 30_000;
    this.inviteCopied = false;
    this.stale = false;
    this._confirmLeave = false;
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("code")) this._confirmLeave = false;
  }

  protected override updated(changed: PropertyValues): void {
    // Asking: the focus goes to the safe answer (Cancel); answered or cancelled: back to Leave.
    if (!changed.has("_confirmLeave") || changed.get("_confirmLeave") === undefined) return;
    this.renderRoot.querySelector<HTMLElement>(this._confirmLeave ? "[data-leave-cancel]" : "[data-leave]")?.focus();
  }

  #renderLeave(code: string, title: string): TemplateResult {
    return html`<button
      class="btn ghost small"
      part="button leave-button"
      data-leave
      aria-label=${`Leave ${title}`}
      aria-expanded=${this._confirmLeave ? "true" : "false"}
      @click=${() => (this._confirmLeave = !this._confirmLeave)}
    >
      ${icons.leaveIcon}<span class="hide-narrow">Leave</span>
    </button>`;
  }

  /** The question under the bar after Leave: what leaving means for this room, "Leave room" or Cancel. */
  #renderConfirm(code: string, title: string): TemplateResult | typeof nothing {
    if (!this._confirmLeave) return nothing;
    return html`<div
      class="confirm"
      role="alertdialog"
      aria-labelledby="leave-q"
      aria-describedby="leave-why"
      @keydown=${(e: KeyboardEvent) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          this._confirmLeave = false;
        }
      }}
    >
      <span id="leave-q" class="q">Leave ${title}?</span>
      <span id="leave-why" class="why"
        >${this.persistent ? "You can join again with its code." : `It disappears ${durationWords(this.graceMs)} after everyone has left.`}</span
      >
      <button
        class="btn small danger"
        part="button"
        data-leave-confirm
        @click=${() => {
          this._confirmLeave = false;
          this.emit("chat-room-leave-request", { code });
        }}
      >
        Leave room
      </button>
      <button class="btn ghost small" part="button" data-leave-cancel @click=${() => (this._confirmLeave = false)}>Cancel</button>
    </div>`;
  }

  protected override render(): TemplateResult {
    const menu = html`<button
      class="btn ghost icon menu-btn"
      part="button"
      aria-label="Open rooms and people"
      aria-expanded=${this.sidebarOpen ? "true" : "false"}
      @click=${() => this.emit("chat-sidebar-toggle", {})}
    >
      ${icons.menuIcon}
    </button>`;
    if (this.code !== "") {
      const code = this.code;
      const title = roomTitle({ name: this.name, code });
      return html`<header class="conv-head" part="conversation-header">
        ${menu}
        <div class="conv-title">
          <h1 id="conv-title"><span class="muted" aria-hidden="true">#</span> ${title}</h1>
          <span class="meta" data-member-count=${this.memberCount}>${plural(this.memberCount, "member")}</span>
        </div>
        <button
          class="code-chip"
          part="room-code copy-button"
          data-code=${code}
          aria-label=${`Room code ${code}. Copy it`}
          title="Copy the room code"
          @click=${() => this.emit("chat-code-copy", { code })}
        >
          ${code} ${this.copied ? icons.checkIcon : icons.copyIcon}
        </button>
        <button
          class="btn ghost small"
          part="button invite-button"
          data-invite
          aria-label=${this.inviteCopied ? "Invite link copied" : "Copy invite link"}
          @click=${() => this.emit("chat-invite-copy", { code })}
        >
          ${this.inviteCopied ? icons.checkIcon : icons.linkIcon}<span class="hide-narrow"
            >${this.inviteCopied ? "Link copied" : "Invite link"}</span
          >
        </button>
        <button
          class="btn ghost small members-btn"
          part="button members-button"
          aria-label=${`Members: ${this.memberCount}`}
          aria-expanded=${this.membersOpen ? "true" : "false"}
          @click=${() => this.emit("chat-members-toggle", {})}
        >
          ${icons.usersIcon} <span data-count>${this.memberCount}</span>
        </button>
        ${this.#renderLeave(code, title)}
        ${this.persistent ? nothing : html`<p class="temporary" part="temporary-note" data-temporary>${temporaryRoomLine(this.graceMs)}</p>`}
        ${this.#renderConfirm(code, title)}
      </header>`;
    }
    if (this.peer !== "") {
      return html`<header class="conv-head ${this.stale ? "stale" : ""}" part="conversation-header">
        ${menu} ${avatar(this.peer, this.peerOnline)}
        <div class="conv-title">
          <h1 id="conv-title">${this.peer}</h1>
          <span class="meta">${this.stale ? "Reconnecting…" : this.peerOnline ? "Online" : "Offline"} · direct messages</span>
        </div>
      </header>`;
    }
    return html`<header class="conv-head" part="conversation-header">
      ${menu}
      <div class="conv-title"><h1 id="conv-title">Start a conversation</h1></div>
    </header>`;
  }
}
