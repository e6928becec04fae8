// <chat-composer>: the message field under a conversation, with the "X is typing…" line above it and the
// send error. Enter sends, Shift+Enter starts a new line; text over the server's limit is refused here.
import { html, nothing, type TemplateResult } from "lit";
import { MAX_TEXT_BYTES } from "../sdk/index.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-composer.styles.ts";
import { utf8Length } from "./format.ts";
import * as icons from "./icons.ts";


/**
 * @fires chat-composer-submit - `{ text }` (cancelable) on Enter or Send; cancelling keeps the text in the field.
 * @fires chat-composer-input - `{ text }` as the text changes (for the typing indicator).
 * @fires chat-composer-blur - `{}` when the field loses focus.
 * @fires chat-reply-cancel - `{}` when the reply bar's Cancel is pressed (or Escape in an empty field).
 *
 * @csspart typing - the "X is typing…" line (a polite live region)
 * @csspart reply-bar - "Replying to X: …" above the field while writing a reply
 * @csspart composer - the form
 * @csspart composer-input - the text field (also part input)
 * @csspart input - the text field
 * @csspart send-button - the Send button (also part button)
 * @csspart button - the Send button
 *
 * @tagname chat-composer
 */
export class ChatComposer extends ChatElement {
  static override properties = {
    label: { type: String },
    typing: { type: String },
    error: { type: String },
    replyTo: { attribute: false },
    _tooLong: { state: true, attribute: false },
  };

  static override styles = styles;

  /** What is written to, e.g. "#standup" or a peer's name: the field's label is "Message <label>". */
  declare label: string;
  /** The typing line, e.g. "bob is typing…", or "". */
  declare typing: string;
  /** Why the last send failed, in words, or "". */
  declare error: string;
  /** The message being replied to (its sender and text, shown as text), or undefined. */
  declare replyTo: { readonly sender: string; readonly text: string } | undefined;
  private declare _tooLong: string;

  constructor() {
    super();
    this.label = "";
    this.typing = "";
    this.error = "";
    this.replyTo = undefined;
    this._tooLong = "";
  }

  /** Puts the cursor in the message field. */
  override focus(options?: FocusOptions): void {
    this.#input()?.focus(options);
  }

  protected override render(): TemplateResult {
    const error = this._tooLong || this.error;
    return html`<div class="typing" part="typing" aria-live="polite">${this.typing}</div>
      ${error ? html`<p class="error composer-error" role="alert">${error}</p>` : nothing}
      ${this.replyTo === undefined
        ? nothing
        : html`<div class="reply-bar" part="reply-bar" data-reply-bar>
            <span class="reply-label">Replying to <strong>${this.replyTo.sender}</strong>: <span class="reply-text">${this.replyTo.text}</span></span>
            <button class="btn ghost small" part="button" type="button" @click=${this.#cancelReply}>Cancel reply</button>
          </div>`}
      <form class="composer" part="composer" @submit=${this.#onSubmit}>
        <label class="sr-only" for="composer-input">Message ${this.label}</label>
        <textarea
          id="composer-input"
          part="input composer-input"
          rows="1"
          placeholder=${`Message ${this.label}`}
          autocomplete="off"
          enterkeyhint="send"
          @keydown=${this.#onKeydown}
          @input=${this.#onInput}
          @blur=${() => this.emit("chat-composer-blur", {})}
        ></textarea>
        <button class="btn primary icon" part="button send-button" type="submit" aria-label="Send message" title="Send (Enter)">${icons.sendIcon}</button>
      </form>`;
  }

  #input(): HTMLTextAreaElement | null {
    return this.renderRoot?.querySelector("textarea") ?? null;
  }

  #cancelReply = (): void => {
    this.emit("chat-reply-cancel", {});
    this.focus();
  };

  #onKeydown = (e: KeyboardEvent): void => {
    if (e.key === "Escape" && this.replyTo !== undefined && (e.currentTarget as HTMLTextAreaElement).value === "") {
      e.preventDefault();
      this.emit("chat-reply-cancel", {});
      return;
    }
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.#submit();
    }
  };

  #onInput = (e: Event): void => {
    this._tooLong = "";
    this.emit("chat-composer-input", { text: (e.currentTarget as HTMLTextAreaElement).value });
  };

  #onSubmit = (e: SubmitEvent): void => {
    e.preventDefault();
    this.#submit();
  };

  #submit(): void {
    const input = this.#input();
    if (input === null) return;
    const text = input.value;
    if (text.trim() === "") return;
    const bytes = utf8Length(text);
    if (bytes > MAX_TEXT_BYTES) {
      this._tooLong = `That message is too long: ${bytes} bytes, the limit is ${MAX_TEXT_BYTES}.`;
      return;
    }
    this._tooLong = "";
    if (this.emit("chat-composer-submit", { text }, { cancelable: true })) input.value = "";
  }
}
