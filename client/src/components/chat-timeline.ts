// <chat-timeline>: one conversation's messages and notices as a scrolling log, with "Load earlier messages",
// delivery states (Sending… / Sent / Not sent + Retry), grouping by sender, date separators, the "New"
// divider, message markup (rich-text.ts) and a "N new messages" / "Jump to latest" button when scrolled up.
// It renders Timeline.layout (worked out once per change) and re-renders only when its inputs change.
import { html, nothing, type PropertyValues, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { avatar } from "./avatar.ts";
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
  static override properties = {
    timeline: { attribute: false },
    revision: { type: Number },
    label: { type: String },
    conversation: { type: String },
    loadingOlder: { type: Boolean, attribute: "loading-older" },
    me: { type: String },
    _atEnd: { state: true, attribute: false },
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
  /** The reader is at the newest message (no jump button). */
  private declare _atEnd: boolean;
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
    this.me = "";
    this._atEnd = true;
  }

  /** Scrolls to the newest message on the next render (after the user sent one). */
  stickToBottom(): void {
    this.#scroll.stick();
  }

  protected override willUpdate(changed: PropertyValues<this>): void {
    if (changed.has("conversation")) {
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
    return html`<div class="timeline" part="timeline" role="log" aria-live="off" aria-label=${this.label} tabindex="0" @scroll=${this.#onScroll}>
      ${t !== undefined && t.loaded && t.hasMore && count > 0
        ? html`<div class="older">
            <button class="btn small" part="button" ?disabled=${this.loadingOlder} @click=${this.#onLoadOlder}>${this.loadingOlder ? "Loading…" : "Load earlier messages"}</button>
          </div>`
        : nothing}
      <slot></slot>
      <ol class="entries">
        ${repeat(
          layout?.rows ?? [],
          (r) => r.entry.key,
          (r) => this.#renderRow(r, now),
        )}
      </ol>
    </div>
    ${this._atEnd
      ? nothing
      : html`<button class="btn small jump ${unseen > 0 ? "has-new" : ""}" part="button jump-button" data-unseen=${unseen} @click=${this.#jumpToLatest}>
          ${icons.arrowDownIcon} ${unseen > 0 ? plural(unseen, "new message") : "Jump to latest"}
        </button>`}`;
  }

  #renderRow(r: Row, now: number): TemplateResult {
    const e = r.entry;
    if (e.kind === "notice") return html`<li class="notice ${e.tone}" part="notice" data-notice>${e.text}</li>`;
    return html`${r.day !== undefined ? html`<li class="day-sep" part="day-separator" data-day><span>${dayLabel(r.day, now)}</span></li>` : nothing}${r.firstNew
        ? html`<li class="new-divider" part="new-divider" data-new-divider><span>New</span></li>`
        : nothing}<li
      class="msg ${e.own ? "own" : ""} ${r.grouped ? "cont" : ""}"
      part=${e.own ? "message message-own" : "message"}
      data-status=${e.status}
      data-sender=${e.sender}
      data-seq=${e.seq === undefined ? "" : String(e.seq)}
    >
      <span class="avatar-slot">${!e.own && r.lastOfGroup ? avatar(e.sender, false) : nothing}</span>
      <div class="body">
        ${r.grouped
          ? nothing
          : html`<div class="meta">
              <span class="sender">${e.own ? "You" : e.sender}</span>
              <time datetime=${new Date(e.sentAtMs).toISOString()} title=${fullTime(e.sentAtMs)}>${shortTime(e.sentAtMs, now)}</time>
            </div>`}
        <div class="bubble" part="bubble" data-text>${richText(e.text, e.own ? "" : this.me)}</div>
        ${e.own ? this.#renderDelivery(e, r.lastOwn) : nothing}
      </div>
    </li>`;
  }

  #renderDelivery(e: MessageEntry, lastOwn: boolean): TemplateResult | typeof nothing {
    if (e.status === "pending") return html`<span class="delivery" part="message-status" data-delivery="pending">${icons.clockIcon} Sending…</span>`;
    if (e.status === "failed") {
      return html`<span class="delivery failed" part="message-status" data-delivery="failed" role="alert"
        >${icons.alertIcon} Not sent: ${e.error}
        <button class="btn ghost small" part="button" @click=${() => this.emit("chat-message-retry", { clientMessageId: e.clientMessageId, text: e.text })}>Retry</button></span
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
