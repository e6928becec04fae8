// <chat-timeline>: one conversation's messages and notices as a scrolling log, with "Load earlier messages",
// delivery states (Sending… / Sent / Not sent + Retry), grouping by sender, date separators, the "New"
// divider, message markup (rich-text.ts) and a "N new messages" / "Jump to latest" button when scrolled up.
// Message actions: a keyboard-reachable "Message actions" button per message opens Reply, quick reactions, any
// single emoji, Edit and Delete (own messages; Delete asks first); edits show "(edited)", deletions a
// tombstone, replies a quote of the original, reactions chips with counts and who reacted (a click toggles).
// It renders Timeline.layout (worked out once per change) and re-renders only when its inputs change.
// Over 400 lines: the message row template (actions menu, reactions, reply quote, attachments) is the bulk;
// it is the next to become its own element.
import { html, nothing, type PropertyValues, type TemplateResult } from "lit";
import { isSingleEmoji, QUICK_REACTIONS } from "../sdk/index.ts";
import { repeat } from "lit/directives/repeat.js";
import { avatar } from "./avatar.ts";
import { ChatAttachment, type FileFetcher } from "./chat-attachment.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-timeline.styles.ts";
import { dayLabel, fullTime, plural, shortTime } from "./format.ts";
import * as icons from "./icons.ts";
import { richText } from "./rich-text.ts";
import { StickToBottom } from "./stick-to-bottom.ts";
import type { MessageEntry, Row, Timeline } from "./timeline.ts";

/**
 * The message log of one room or DM. User text is rendered as text only.
 *
 * @fires chat-load-older - `{}` when "Load earlier messages" is pressed (the scroll position is kept).
 * @fires chat-message-retry - `{ clientMessageId, text }` when Retry is pressed under a failed message.
 * @fires chat-message-reply - `{ seq, sender, text }` when Reply is chosen for a message.
 * @fires chat-message-edit - `{ seq, text }` when an edit of an own message is saved.
 * @fires chat-message-delete - `{ seq }` when deleting an own message is confirmed.
 * @fires chat-message-react - `{ seq, emoji, add }` when a reaction is chosen or a reaction chip toggled.
 *
 * @slot - shown above the messages (the share card or the "say hello" card of an empty conversation).
 *
 * @csspart timeline - the scrolling log (role="log")
 * @csspart message - a message; also message-own on the user's own ones
 * @csspart bubble - a message's text
 * @csspart message-status - "Sending…", "Sent" or "Not sent" under an own message
 * @csspart notice - a notice in the log (joins, leaves, recoveries)
 * @csspart day-separator - "Today", "Yesterday" or a date above a day's first message
 * @csspart new-divider - "New" above the first message that arrived while the reader was elsewhere
 * @csspart mention - an @mention of the reader in a message
 * @csspart reply-quote - the quote of the original above a reply
 * @csspart edited - the "(edited)" mark of an edited message
 * @csspart tombstone - "Message deleted" in place of a deleted message's text
 * @csspart reactions - the reaction chips under a message
 * @csspart attachments - the files under a message (each a <chat-attachment>)
 * @csspart attachment-image - an image's thumbnail button
 * @csspart attachment-file - a file's chip (name, size, Download)
 * @csspart image-dialog - the dialog with a full image
 * @csspart reaction - one reaction chip (emoji and count; pressed when the reader reacted)
 * @csspart actions-button - the "Message actions" button of a message
 * @csspart actions-menu - the actions of a message (reply, react, edit, delete)
 * @csspart jump-button - "N new messages" / "Jump to latest", shown when scrolled up
 * @csspart button - "Load earlier messages", Retry and the jump button
 *
 * @cssproperty --chat-own-bg - own bubbles
 * @cssproperty --chat-own-fg - text in own bubbles
 * @cssproperty --chat-other-bg - others' bubbles
 * @cssproperty --chat-other-fg - text in others' bubbles
 * @cssproperty --chat-radius - bubble radius
 * @cssproperty --chat-mention-bg - the highlight behind a mention of the reader
 *
 * @tagname chat-timeline
 */
export class ChatTimeline extends ChatElement {
  static override dependencies = { "chat-attachment": ChatAttachment };

  static override properties = {
    timeline: { attribute: false },
    revision: { type: Number },
    label: { type: String },
    conversation: { type: String },
    loadingOlder: { type: Boolean, attribute: "loading-older" },
    me: { type: String },
    fetchFile: { attribute: false },
    _atEnd: { state: true, attribute: false },
    _menu: { state: true, attribute: false },
    _editing: { state: true, attribute: false },
    _confirmDelete: { state: true, attribute: false },
  };

  static override styles = styles;

  /** The conversation's entries; pass `revision` (timeline.revision) along so changes render. */
  declare timeline: Timeline | undefined;
  /** The timeline's revision when it was handed over: a new value renders the changed entries. */
  declare revision: number;
  /** Accessible name of the log, e.g. "Messages in #standup". */
  declare label: string;
  /** A key of the conversation shown: a new one scrolls to the newest message. */
  declare conversation: string;
  /** An older page is being loaded. */
  declare loadingOlder: boolean;
  /** The reader's username: their @mentions are highlighted. */
  declare me: string;
  /** Fetches an attachment's bytes with the session token (for thumbnails and downloads). */
  declare fetchFile: FileFetcher | undefined;
  /** The reader is at the newest message (no jump button). */
  declare private _atEnd: boolean;
  /** The key of the message whose actions are open, if any. */
  declare private _menu: string | undefined;
  /** The key of the own message being edited, if any. */
  declare private _editing: string | undefined;
  /** The key of the own message whose deletion awaits confirmation, if any. */
  declare private _confirmDelete: string | undefined;
  /** The newest seq the reader has seen at the end of the log: later messages from others count as new. */
  #seenSeq: bigint | undefined;

  readonly #scroll = new StickToBottom(
    this,
    () => this.renderRoot?.querySelector<HTMLElement>(".timeline") ?? null,
    () => this.loadingOlder,
  );

  constructor() {
    super();
    this.timeline = undefined;
    this.revision = 0;
    this.label = "";
    this.conversation = "";
    this.loadingOlder = false;
    this.fetchFile = undefined;
    this.me = "";
    this._atEnd = true;
    this._menu = undefined;
    this._editing = undefined;
    this._confirmDelete = undefined;
  }

  /** Scrolls to the newest message on the next render (after the user sent one). */
  stickToBottom(): void {
    this.#scroll.stick();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("conversation")) {
      this._menu = undefined;
      this._editing = undefined;
      this._confirmDelete = undefined;
      this.#scroll.stick();
      this._atEnd = true;
      this.#seenSeq = undefined;
    }
  }

  protected override updated(): void {
    // Still at the end after this render (or it stuck there): everything shown has been seen.
    const el = this.#scroller();
    if (el !== null && this.#nearEnd(el)) {
      this._atEnd = true;
      this.#seenSeq = this.#newestSeq();
    }
  }

  #scroller(): HTMLElement | null {
    return this.renderRoot?.querySelector<HTMLElement>(".timeline") ?? null;
  }

  #nearEnd(el: HTMLElement): boolean {
    return el.scrollHeight - el.scrollTop - el.clientHeight < 96;
  }

  /** The newest stored seq shown, read from the end (pending sends and notices have none). */
  #newestSeq(): bigint | undefined {
    const rows = this.timeline?.layout.rows ?? [];
    for (let i = rows.length - 1; i >= 0; i--) {
      const e = rows[i]!.entry;
      if (e.kind === "message" && e.seq !== undefined) return e.seq;
    }
    return undefined;
  }

  /** Messages from others newer than the last one seen at the end; reads only the rows after it. */
  #unseen(): number {
    const rows = this.timeline?.layout.rows ?? [];
    const seen = this.#seenSeq;
    let n = 0;
    for (let i = rows.length - 1; i >= 0; i--) {
      const e = rows[i]!.entry;
      if (e.kind !== "message" || e.seq === undefined) continue;
      if (seen !== undefined && e.seq <= seen) break;
      if (seen === undefined) break;
      if (!e.own) n++;
    }
    return n;
  }

  #onScroll = (): void => {
    const el = this.#scroller();
    if (el === null) return;
    const atEnd = this.#nearEnd(el);
    if (atEnd) this.#seenSeq = this.#newestSeq();
    if (atEnd !== this._atEnd) this._atEnd = atEnd;
  };

  #jumpToLatest = (): void => {
    const el = this.#scroller();
    if (el !== null) el.scrollTop = el.scrollHeight;
    this.#scroll.stick();
    this._atEnd = true;
    this.#seenSeq = this.#newestSeq();
  };

  protected override render(): TemplateResult {
    const t = this.timeline;
    const layout = t?.layout;
    const count = layout?.messageCount ?? 0;
    const now = Date.now();
    const unseen = this._atEnd ? 0 : this.#unseen();
    return html`<div
        class="timeline"
        part="timeline"
        role="log"
        aria-live="off"
        aria-label=${this.label}
        tabindex="0"
        @scroll=${this.#onScroll}
      >
        ${
          t !== undefined && t.loaded && t.hasMore && count > 0
            ? html`<div class="older">
                <button class="btn small" part="button" ?disabled=${this.loadingOlder} @click=${this.#onLoadOlder}>
                  ${this.loadingOlder ? "Loading…" : "Load earlier messages"}
                </button>
              </div>`
            : nothing
        }
        <slot></slot>
        <ol class="entries">
          ${repeat(
            layout?.rows ?? [],
            (r) => r.entry.key,
            (r) => this.#renderRow(r, now),
          )}
        </ol>
      </div>
      ${
        this._atEnd
          ? nothing
          : html`<button
              class="btn small jump ${unseen > 0 ? "has-new" : ""}"
              part="button jump-button"
              data-unseen=${unseen}
              @click=${this.#jumpToLatest}
            >
              ${icons.arrowDownIcon} ${unseen > 0 ? plural(unseen, "new message") : "Jump to latest"}
            </button>`
      }`;
  }

  #renderRow(r: Row, now: number): TemplateResult {
    const e = r.entry;
    if (e.kind === "notice") return html`<li class="notice ${e.tone}" part="notice" data-notice>${e.text}</li>`;
    return html`${r.day !== undefined ? html`<li class="day-sep" part="day-separator" data-day><span>${dayLabel(r.day, now)}</span></li>` : nothing}${
        r.firstNew ? html`<li class="new-divider" part="new-divider" data-new-divider><span>New</span></li>` : nothing
      }
      <li
        class="msg ${e.own ? "own" : ""} ${r.grouped ? "cont" : ""}"
        part=${e.own ? "message message-own" : "message"}
        data-status=${e.status}
        data-sender=${e.sender}
        data-seq=${e.seq === undefined ? "" : String(e.seq)}
      >
        <span class="avatar-slot">${!e.own && r.lastOfGroup ? avatar(e.sender, false) : nothing}</span>
        <div class="body">
          ${
            r.grouped
              ? nothing
              : html`<div class="meta">
                  <span class="sender">${e.own ? "You" : e.sender}</span>
                  <time datetime=${new Date(e.sentAtMs).toISOString()} title=${fullTime(e.sentAtMs)}>${shortTime(e.sentAtMs, now)}</time>
                </div>`
          }
          ${e.replyToSeq > 0n ? this.#renderQuote(e) : nothing}
          ${this._editing === e.key && !e.deleted ? this.#renderEdit(e) : this.#renderBubble(e)}
          ${e.attachments.length > 0 && !e.deleted ? this.#renderAttachments(e) : nothing}
          ${e.reactions.length > 0 ? this.#renderReactions(e) : nothing}
          ${this._menu === e.key && e.seq !== undefined && !e.deleted ? this.#renderMenu(e) : nothing}
          ${e.own ? this.#renderDelivery(e, r.lastOwn) : nothing}
        </div>
        ${e.seq !== undefined && !e.deleted ? this.#renderActions(e) : nothing}
      </li>`;
  }

  #renderBubble(e: MessageEntry): TemplateResult {
    if (e.deleted) return html`<div class="bubble tombstone" part="bubble tombstone" data-tombstone>Message deleted</div>`;
    if (e.text === "" && e.attachments.length > 0) return html``;
    return html`<div class="bubble" part="bubble" data-text>${richText(e.text, e.own ? "" : this.me)}</div>
      ${
        e.editedAtMs > 0
          ? html`<span class="edited" part="edited" data-edited title=${`Edited ${fullTime(e.editedAtMs)}`}>(edited)</span>`
          : nothing
      }`;
  }

  #renderAttachments(e: MessageEntry): TemplateResult {
    return html`<div class="attachments" part="attachments" data-attachments>
      ${e.attachments.map(
        (a) =>
          html`<chat-attachment
            exportparts="attachment-image, attachment-file, image-dialog, button"
            .attachment=${a}
            .fetchFile=${this.fetchFile}
          ></chat-attachment>`,
      )}
    </div>`;
  }

  #renderQuote(e: MessageEntry): TemplateResult {
    const q = e.replyQuote;
    // Plain text only: the quote is someone else's words, cut to 200 characters by the server.
    return html`<div class="quote" part="reply-quote" data-quote>
      ${
        q === undefined
          ? html`<span class="quote-text">Reply to an earlier message</span>`
          : html`<span class="quote-sender">${q.sender}</span> <span class="quote-text">${q.deleted ? "Message deleted" : q.text}</span>`
      }
    </div>`;
  }

  #renderReactions(e: MessageEntry): TemplateResult {
    return html`<div class="reactions" part="reactions" data-reactions>
      ${e.reactions.map((r) => {
        const mine = r.users.some((u) => u.toLowerCase() === this.me.toLowerCase());
        const who = r.users.join(", ");
        return html`<button
          class="chip ${mine ? "mine" : ""}"
          part="reaction"
          type="button"
          data-reaction=${r.emoji}
          aria-pressed=${mine ? "true" : "false"}
          aria-label=${`${r.emoji} ${r.users.length}, reacted by ${who}`}
          title=${`Reacted by ${who}`}
          @click=${() => this.#react(e, r.emoji, !mine)}
        >
          <span aria-hidden="true">${r.emoji}</span> <span class="count" aria-hidden="true">${r.users.length}</span>
        </button>`;
      })}
    </div>`;
  }

  #renderEdit(e: MessageEntry): TemplateResult {
    const save = (form: HTMLFormElement) => {
      const text = (form.elements.namedItem("text") as HTMLTextAreaElement).value;
      if (text.trim() === "" || e.seq === undefined) return;
      this._editing = undefined;
      if (text !== e.text) this.emit("chat-message-edit", { seq: e.seq, text });
      this.#focusActions(e);
    };
    return html`<form
      class="edit"
      data-edit
      @submit=${(ev: SubmitEvent) => {
        ev.preventDefault();
        save(ev.currentTarget as HTMLFormElement);
      }}
    >
      <textarea
        name="text"
        aria-label="Edit message"
        rows="2"
        .value=${e.text}
        @keydown=${(ev: KeyboardEvent) => {
          if (ev.key === "Escape") {
            ev.preventDefault();
            this._editing = undefined;
            this.#focusActions(e);
          } else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
            ev.preventDefault();
            save((ev.currentTarget as HTMLTextAreaElement).form!);
          }
        }}
      ></textarea>
      <div class="edit-buttons">
        <button class="btn primary small" part="button" type="submit">Save</button>
        <button class="btn ghost small" part="button" type="button" @click=${() => ((this._editing = undefined), this.#focusActions(e))}>
          Cancel
        </button>
      </div>
    </form>`;
  }

  #renderActions(e: MessageEntry): TemplateResult {
    const open = this._menu === e.key;
    const who = e.own ? "your message" : `message from ${e.sender}`;
    return html`<div class="actions" data-actions>
      <button
        class="btn ghost icon small act-toggle"
        part="button actions-button"
        type="button"
        aria-label=${`Actions for ${who}`}
        aria-expanded=${open ? "true" : "false"}
        aria-controls=${`actions-${e.key}`}
        @click=${() => this.#toggleMenu(e)}
      >
        <span aria-hidden="true">⋯</span>
      </button>
    </div>`;
  }

  #renderMenu(e: MessageEntry): TemplateResult {
    const seq = e.seq!;
    if (this._confirmDelete === e.key) {
      return html`<div
        class="menu confirm"
        part="actions-menu"
        id=${`actions-${e.key}`}
        role="alertdialog"
        aria-label="Delete message"
        data-confirm-delete
        @keydown=${(ev: KeyboardEvent) => this.#menuKey(ev, e)}
      >
        <span>Delete this message for everyone?</span>
        <button class="btn danger small" part="button" type="button" data-confirm @click=${() => this.#delete(e)}>Delete</button>
        <button class="btn ghost small" part="button" type="button" @click=${() => ((this._confirmDelete = undefined), this.#closeMenu(e))}>
          Cancel
        </button>
      </div>`;
    }
    return html`<div
      class="menu"
      part="actions-menu"
      id=${`actions-${e.key}`}
      role="group"
      aria-label="Message actions"
      data-menu
      @keydown=${(ev: KeyboardEvent) => this.#menuKey(ev, e)}
    >
      <button class="btn ghost small" part="button" type="button" data-action="reply" @click=${() => this.#reply(e)}>Reply</button>
      <span class="quick" role="group" aria-label="React">
        ${QUICK_REACTIONS.map((emoji) => {
          const mine = e.reactions.some((r) => r.emoji === emoji && r.users.some((u) => u.toLowerCase() === this.me.toLowerCase()));
          return html`<button
            class="btn ghost small emoji"
            part="button"
            type="button"
            data-react=${emoji}
            aria-pressed=${mine ? "true" : "false"}
            aria-label=${`React with ${emoji}`}
            @click=${() => (this.#react(e, emoji, !mine), this.#closeMenu(e))}
          >
            ${emoji}
          </button>`;
        })}
      </span>
      <form
        class="any-emoji"
        @submit=${(ev: SubmitEvent) => {
          ev.preventDefault();
          const input = (ev.currentTarget as HTMLFormElement).elements.namedItem("emoji") as HTMLInputElement;
          const emoji = input.value.trim();
          if (!isSingleEmoji(emoji)) {
            input.setCustomValidity("Type one emoji");
            input.reportValidity();
            return;
          }
          this.#react(e, emoji, true);
          this.#closeMenu(e);
        }}
      >
        <input
          name="emoji"
          aria-label="Any emoji"
          placeholder="😀"
          maxlength="16"
          size="3"
          @input=${(ev: Event) => (ev.currentTarget as HTMLInputElement).setCustomValidity("")}
        />
        <button class="btn ghost small" part="button" type="submit">React</button>
      </form>
      ${
        e.own
          ? html`<button
                class="btn ghost small"
                part="button"
                type="button"
                data-action="edit"
                @click=${() => ((this._menu = undefined), (this._editing = e.key), this.#focusEdit())}
              >
                Edit
              </button>
              <button
                class="btn ghost small"
                part="button"
                type="button"
                data-action="delete"
                @click=${() => ((this._confirmDelete = e.key), this.#focusIn(`[data-confirm]`))}
              >
                Delete
              </button>`
          : nothing
      }
      <span class="sr-only">Message ${String(seq)}</span>
    </div>`;
  }

  #toggleMenu(e: MessageEntry): void {
    this._confirmDelete = undefined;
    if (this._menu === e.key) {
      this._menu = undefined;
      return;
    }
    this._menu = e.key;
    this.#focusIn("[data-menu] button");
  }

  #closeMenu(e: MessageEntry): void {
    this._menu = undefined;
    this._confirmDelete = undefined;
    this.#focusActions(e);
  }

  #menuKey(ev: KeyboardEvent, e: MessageEntry): void {
    if (ev.key !== "Escape") return;
    ev.preventDefault();
    ev.stopPropagation();
    this.#closeMenu(e);
  }

  #reply(e: MessageEntry): void {
    if (e.seq === undefined) return;
    this._menu = undefined;
    this.emit("chat-message-reply", { seq: e.seq, sender: e.sender, text: e.text });
  }

  #react(e: MessageEntry, emoji: string, add: boolean): void {
    if (e.seq !== undefined) this.emit("chat-message-react", { seq: e.seq, emoji, add });
  }

  #delete(e: MessageEntry): void {
    if (e.seq !== undefined) this.emit("chat-message-delete", { seq: e.seq });
    this._confirmDelete = undefined;
    this._menu = undefined;
  }

  /** Focus the first element matching `selector` once the next render is done. */
  #focusIn(selector: string): void {
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(selector)?.focus());
  }

  #focusEdit(): void {
    void this.updateComplete.then(() => {
      const area = this.renderRoot.querySelector<HTMLTextAreaElement>("[data-edit] textarea");
      area?.focus();
      area?.setSelectionRange(area.value.length, area.value.length);
    });
  }

  /** Back to the message's actions button (after a menu, an edit or a confirmation closes). */
  #focusActions(e: MessageEntry): void {
    void this.updateComplete.then(() =>
      this.renderRoot.querySelector<HTMLElement>(`li[data-seq="${String(e.seq ?? "")}"] .act-toggle`)?.focus(),
    );
  }

  #renderDelivery(e: MessageEntry, lastOwn: boolean): TemplateResult | typeof nothing {
    if (e.status === "pending")
      return html`<span class="delivery" part="message-status" data-delivery="pending">${icons.clockIcon} Sending…</span>`;
    if (e.status === "failed") {
      return html`<span class="delivery failed" part="message-status" data-delivery="failed" role="alert"
        >${icons.alertIcon} Not sent: ${e.error}
        <button
          class="btn ghost small"
          part="button"
          @click=${() => this.emit("chat-message-retry", { clientMessageId: e.clientMessageId, text: e.text })}
        >
          Retry
        </button></span
      >`;
    }
    // "Sent" only under the newest own message, like most chat apps: the rest are sent too.
    if (!lastOwn) return nothing;
    return html`<span class="delivery" part="message-status" data-delivery="sent">${icons.checkIcon} Sent</span>`;
  }

  #onLoadOlder = (): void => {
    this.#scroll.keepPositionWhileLoading();
    this.emit("chat-load-older", {});
  };
}
