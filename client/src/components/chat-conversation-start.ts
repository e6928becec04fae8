// <chat-conversation-start>: what an empty conversation shows: a room's share card (its code, big, with a
// Copy button) or the "Say hello" card of a DM.
import { html, type TemplateResult } from "lit";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-conversation-start.styles.ts";
import * as icons from "./icons.ts";

/**
 * @fires chat-code-copy - `{ code }` when "Copy code" is pressed.
 * @fires chat-invite-copy - `{ code }` when "Copy invite link" is pressed.
 *
 * @csspart share - the card
 * @csspart room-code - the room code, large and selectable
 * @csspart copy-button - the Copy button (also part button)
 * @csspart invite-button - "Copy invite link" (also part button)
 * @csspart button - the Copy and invite buttons
 *
 * @cssproperty --chat-mono-font - the room code's font
 *
 * @tagname chat-conversation-start
 */
export class ChatConversationStart extends ChatElement {
  static override properties = {
    code: { type: String },
    peer: { type: String },
    fresh: { type: Boolean },
    copied: { type: String },
    inviteCopied: { type: Boolean, attribute: "invite-copied" },
  };

  static override styles = styles;

  /** The room's code (a room's card), or "" for a DM. */
  declare code: string;
  /** The DM peer's name (a DM's card), or "". */
  declare peer: string;
  /** The room was just created on this page: "Your room is ready". */
  declare fresh: boolean;
  /** "copied" after a copy, "selected" when the clipboard was refused and the code is selected instead. */
  declare copied: "" | "copied" | "selected";
  /** The invite link was just copied. */
  declare inviteCopied: boolean;

  constructor() {
    super();
    this.code = "";
    this.peer = "";
    this.fresh = false;
    this.copied = "";
    this.inviteCopied = false;
  }

  /** Selects the code, so Ctrl+C copies it (when the clipboard is not available). */
  selectCode(): void {
    const el = this.renderRoot.querySelector("[data-share-code]");
    if (el !== null) globalThis.getSelection?.()?.selectAllChildren(el);
  }

  protected override render(): TemplateResult {
    if (this.code === "") {
      return html`<div class="share">
        <h2>Say hello to ${this.peer}</h2>
        <p>Direct messages are kept, so ${this.peer} sees them even when offline now.</p>
      </div>`;
    }
    const copied = this.copied;
    return html`<div class="share" part="share">
      <h2>${this.fresh ? "Your room is ready" : "No messages yet"}</h2>
      <p>Share this code or the invite link so others can join:</p>
      <div class="code-big" part="room-code" data-share-code>${this.code}</div>
      <button
        class="btn primary"
        part="button copy-button"
        aria-label=${`Copy room code ${this.code}`}
        @click=${() => this.emit("chat-code-copy", { code: this.code })}
      >
        ${copied === "copied" ? icons.checkIcon : icons.copyIcon}
        ${copied === "copied" ? "Copied" : copied === "selected" ? "Selected: press Ctrl+C" : "Copy code"}
      </button>
      <button class="btn" part="button invite-button" data-invite @click=${() => this.emit("chat-invite-copy", { code: this.code })}>
        ${this.inviteCopied ? icons.checkIcon : icons.linkIcon} ${this.inviteCopied ? "Invite link copied" : "Copy invite link"}
      </button>
    </div>`;
  }
}
