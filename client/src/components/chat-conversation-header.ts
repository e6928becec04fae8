// <chat-conversation-header>: the bar above a conversation: the phone menu button, the room's name and
// member count with its code chip (copies the code), Members and Leave; a DM's peer and whether they are online.
import { html, type TemplateResult } from "lit";
import { avatar } from "./avatar.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-conversation-header.styles.ts";
import { roomTitle } from "./chat-state.ts";
import { plural } from "./format.ts";
import * as icons from "./icons.ts";

/**
 * Shows a room when `code` is set, else a DM when `peer` is set, else "Start a conversation".
 *
 * @fires chat-sidebar-toggle - `{}` from the menu button (narrow layouts).
 * @fires chat-members-toggle - `{}` from the Members button (layouts where the member list is a panel).
 * @fires chat-code-copy - `{ code }` from the room-code chip.
 * @fires chat-room-leave-request - `{ code }` from Leave.
 *
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
        <button class="code-chip" part="room-code copy-button" data-code=${code} aria-label=${`Room code ${code}. Copy it`} title="Copy the room code" @click=${() => this.emit("chat-code-copy", { code })}>
          ${code} ${this.copied ? icons.checkIcon : icons.copyIcon}
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
        <button class="btn ghost small" part="button leave-button" aria-label=${`Leave ${title}`} @click=${() => this.emit("chat-room-leave-request", { code })}>
          ${icons.leaveIcon}<span class="hide-narrow">Leave</span>
        </button>
      </header>`;
    }
    if (this.peer !== "") {
      return html`<header class="conv-head" part="conversation-header">
        ${menu} ${avatar(this.peer, this.peerOnline)}
        <div class="conv-title">
          <h1 id="conv-title">${this.peer}</h1>
          <span class="meta">${this.peerOnline ? "Online" : "Offline"} · direct messages</span>
        </div>
      </header>`;
    }
    return html`<header class="conv-head" part="conversation-header">
      ${menu}
      <div class="conv-title"><h1 id="conv-title">Start a conversation</h1></div>
    </header>`;
  }
}
