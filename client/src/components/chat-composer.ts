// <chat-composer>: the message field under a conversation, with the "X is typing…" line above it and the
// send error. Enter sends, Shift+Enter starts a new line; text over the server's limit is refused here.
// Files come in by the Attach button, by pasting or by dropping them on the field: each uploads at once (a
// progress bar with Cancel) and is sent with the next message; the message may then have no text.
import { html, nothing, type TemplateResult } from "lit";
import { describeFileError, FileError, formatBytes, MAX_TEXT_BYTES, type UploadedFile, type UploadOptions } from "../sdk/index.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-composer.styles.ts";
import { utf8Length } from "./format.ts";
import * as icons from "./icons.ts";

/** At most this many files per message (the contract's limit on attachment_ids). */
const MAX_ATTACHMENTS = 10;

const attachIcon = icons.attachIcon;

interface PendingUpload {
  readonly key: number;
  readonly name: string;
  readonly size: number;
  readonly sent: number;
  readonly result: UploadedFile | undefined;
  readonly error: string;
  readonly controller: AbortController;
}

/**
 * @fires chat-composer-submit - `{ text, attachments }` (cancelable) on Enter or Send; cancelling keeps the text and files.
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
 * @csspart attach-button - the Attach button (also part button)
 * @csspart uploads - the files waiting to be sent, each with its progress and Cancel
 *
 * @tagname chat-composer
 */
export class ChatComposer extends ChatElement {
  static override properties = {
    label: { type: String },
    typing: { type: String },
    error: { type: String },
    replyTo: { attribute: false },
    uploader: { attribute: false },
    _tooLong: { state: true, attribute: false },
    _uploads: { state: true, attribute: false },
    _dragging: { state: true, attribute: false },
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
  /** Uploads a file (the chat's session); without it the Attach button is not shown. */
  declare uploader: ((file: Blob, options: UploadOptions) => Promise<UploadedFile>) | undefined;
  declare private _tooLong: string;
  declare private _uploads: ReadonlyArray<PendingUpload>;
  declare private _dragging: boolean;
  #nextUpload = 1;

  constructor() {
    super();
    this.label = "";
    this.typing = "";
    this.error = "";
    this.replyTo = undefined;
    this.uploader = undefined;
    this._tooLong = "";
    this._uploads = [];
    this._dragging = false;
  }

  /** Starts uploading `files` (as from the Attach button, a paste or a drop). */
  addFiles(files: Iterable<File>): void {
    const uploader = this.uploader;
    if (uploader === undefined) return;
    for (const file of files) {
      if (this._uploads.length >= MAX_ATTACHMENTS) {
        this._tooLong = `At most ${MAX_ATTACHMENTS} files per message.`;
        return;
      }
      const controller = new AbortController();
      const upload: PendingUpload = {
        key: this.#nextUpload++,
        name: file.name || "pasted file",
        size: file.size,
        sent: 0,
        result: undefined,
        error: "",
        controller,
      };
      this._uploads = [...this._uploads, upload];
      uploader(file, {
        name: upload.name,
        signal: controller.signal,
        onProgress: (sent) => this.#update(upload.key, { sent }),
      }).then(
        (result) => {
          this.#update(upload.key, { result, sent: upload.size });
          if (this._uploads.every((u) => u.result !== undefined || u.error !== "")) this._tooLong = "";
        },
        (e: unknown) => {
          if (e instanceof FileError && e.code === "aborted") return;
          this.#update(upload.key, { error: `${upload.name}: ${describeFileError(e)}` });
        },
      );
    }
  }

  #update(key: number, change: Partial<PendingUpload>): void {
    this._uploads = this._uploads.map((u) => (u.key === key ? { ...u, ...change } : u));
  }

  #cancelUpload(key: number): void {
    this._uploads.find((u) => u.key === key)?.controller.abort();
    this._uploads = this._uploads.filter((u) => u.key !== key);
    this._tooLong = "";
    this.focus();
  }

  /** Puts the cursor in the message field. */
  override focus(options?: FocusOptions): void {
    this.#input()?.focus(options);
  }

  protected override render(): TemplateResult {
    const error = this._tooLong || this.error;
    return html`<div class="typing" part="typing" aria-live="polite">${this.typing}</div>
      ${error ? html`<p class="error composer-error" role="alert">${error}</p>` : nothing}
      ${
        this._uploads.length === 0
          ? nothing
          : html`<ul class="uploads" part="uploads" aria-label="Files to send">
              ${this._uploads.map(
                (u) =>
                  html`<li class="upload" data-upload data-state=${u.error ? "failed" : u.result ? "done" : "uploading"}>
                    <span class="upload-name">${u.name}</span>
                    <span class="upload-size">${formatBytes(u.size)}</span>
                    ${
                      u.error
                        ? html`<span class="error" role="alert">${u.error}</span>`
                        : html`<progress
                            max=${Math.max(1, u.size)}
                            value=${u.result ? u.size : u.sent}
                            aria-label=${`Uploading ${u.name}`}
                          ></progress>`
                    }
                    <button
                      class="btn ghost small"
                      part="button"
                      type="button"
                      aria-label=${`${u.result || u.error ? "Remove" : "Cancel upload of"} ${u.name}`}
                      @click=${() => this.#cancelUpload(u.key)}
                    >
                      ${u.result || u.error ? "Remove" : "Cancel"}
                    </button>
                  </li>`,
              )}
            </ul>`
      }
      ${
        this.replyTo === undefined
          ? nothing
          : html`<div class="reply-bar" part="reply-bar" data-reply-bar>
              <span class="reply-label"
                >Replying to <strong>${this.replyTo.sender}</strong>: <span class="reply-text">${this.replyTo.text}</span></span
              >
              <button class="btn ghost small" part="button" type="button" @click=${this.#cancelReply}>Cancel reply</button>
            </div>`
      }
      <form
        class="composer ${this._dragging ? "dragging" : ""}"
        part="composer"
        @submit=${this.#onSubmit}
        @dragover=${this.#onDragOver}
        @dragleave=${() => (this._dragging = false)}
        @drop=${this.#onDrop}
      >
        ${
          this.uploader === undefined
            ? nothing
            : html`<input class="sr-only" type="file" multiple tabindex="-1" aria-hidden="true" @change=${this.#onPick} />
                <button
                  class="btn ghost icon"
                  part="button attach-button"
                  type="button"
                  aria-label="Attach files"
                  title="Attach files"
                  @click=${this.#pick}
                >
                  ${attachIcon}
                </button>`
        }
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
          @paste=${this.#onPaste}
          @blur=${() => this.emit("chat-composer-blur", {})}
        ></textarea>
        <button class="btn primary icon" part="button send-button" type="submit" aria-label="Send message" title="Send (Enter)">
          ${icons.sendIcon}
        </button>
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

  #pick = (): void => this.renderRoot.querySelector<HTMLInputElement>("input[type=file]")?.click();

  #onPick = (e: Event): void => {
    const input = e.currentTarget as HTMLInputElement;
    this.addFiles([...(input.files ?? [])]);
    input.value = "";
  };

  #onPaste = (e: ClipboardEvent): void => {
    const files = [...(e.clipboardData?.files ?? [])];
    if (files.length === 0 || this.uploader === undefined) return;
    e.preventDefault();
    this.addFiles(files);
  };

  #onDragOver = (e: DragEvent): void => {
    if (this.uploader === undefined || !e.dataTransfer?.types.includes("Files")) return;
    e.preventDefault();
    this._dragging = true;
  };

  #onDrop = (e: DragEvent): void => {
    this._dragging = false;
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length === 0 || this.uploader === undefined) return;
    e.preventDefault();
    this.addFiles(files);
  };

  #onSubmit = (e: SubmitEvent): void => {
    e.preventDefault();
    this.#submit();
  };

  #submit(): void {
    const input = this.#input();
    if (input === null) return;
    const text = input.value;
    if (this._uploads.some((u) => u.result === undefined && u.error === "")) {
      this._tooLong = "Wait for the files to finish uploading.";
      return;
    }
    const attachments = this._uploads.flatMap((u) => (u.result === undefined ? [] : [u.result]));
    if (text.trim() === "" && attachments.length === 0) return;
    const bytes = utf8Length(text);
    if (bytes > MAX_TEXT_BYTES) {
      this._tooLong = `That message is too long: ${bytes} bytes, the limit is ${MAX_TEXT_BYTES}.`;
      return;
    }
    this._tooLong = "";
    if (this.emit("chat-composer-submit", { text: text.trim() === "" ? "" : text, attachments }, { cancelable: true })) {
      input.value = "";
      this._uploads = [];
    }
  }
}
