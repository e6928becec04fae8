// <chat-attachment>: one file of a message. An image shows its thumbnail (fetched with the session token, shown
// from a blob: URL, since an <img src> cannot send the Authorization header); activating it opens the full image
// in a modal dialog. Any other file is a chip with its name, size and a Download button. Names are text.
import { html, nothing, type PropertyValues, type TemplateResult } from "lit";
import { formatBytes } from "../sdk/index.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-attachment.styles.ts";
import * as icons from "./icons.ts";
import type { AttachmentView } from "./timeline.ts";

/** Fetches a file path (/v1/files/{id} or a thumbnail URL) with the session token. */
export type FileFetcher = (path: string) => Promise<Blob>;

/**
 * @csspart attachment-image - the thumbnail button of an image
 * @csspart attachment-file - the chip of any other file
 * @csspart image-dialog - the dialog with the full image
 * @csspart button - the Download and Close buttons
 *
 * @tagname chat-attachment
 */
export class ChatAttachment extends ChatElement {
  static override properties = {
    attachment: { attribute: false },
    fetchFile: { attribute: false },
    _thumb: { state: true, attribute: false },
    _full: { state: true, attribute: false },
    _error: { state: true, attribute: false },
  };

  static override styles = styles;

  /** The file to show. */
  declare attachment: AttachmentView | undefined;
  /** How bytes are fetched (the chat's session token in the header). */
  declare fetchFile: FileFetcher | undefined;
  declare private _thumb: string;
  declare private _full: string;
  declare private _error: string;
  readonly #urls: string[] = [];

  constructor() {
    super();
    this.attachment = undefined;
    this.fetchFile = undefined;
    this._thumb = "";
    this._full = "";
    this._error = "";
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    for (const url of this.#urls.splice(0)) URL.revokeObjectURL(url);
    this._thumb = "";
    this._full = "";
  }

  protected override updated(changed: PropertyValues<this>): void {
    const a = this.attachment;
    if (
      a !== undefined &&
      a.thumbnailUrl !== "" &&
      this._thumb === "" &&
      this.fetchFile !== undefined &&
      (changed.has("attachment") || changed.has("fetchFile"))
    ) {
      void this.#load(a.thumbnailUrl).then((url) => (this._thumb = url ?? ""));
    }
  }

  async #load(path: string): Promise<string | undefined> {
    try {
      const blob = await this.fetchFile!(path);
      const url = URL.createObjectURL(blob);
      this.#urls.push(url);
      return url;
    } catch {
      this._error = "This file is not available.";
      return undefined;
    }
  }

  #open = async (): Promise<void> => {
    const a = this.attachment;
    if (a === undefined) return;
    const dialog = this.renderRoot.querySelector("dialog");
    dialog?.showModal();
    if (this._full === "") this._full = (await this.#load(`/v1/files/${a.id}`)) ?? "";
  };

  #close = (): void => this.renderRoot.querySelector("dialog")?.close();

  #download = async (): Promise<void> => {
    const a = this.attachment;
    if (a === undefined) return;
    const url = await this.#load(`/v1/files/${a.id}`);
    if (url === undefined) return;
    const link = document.createElement("a");
    link.href = url;
    link.download = a.fileName;
    link.rel = "noopener";
    link.click();
  };

  protected override render(): TemplateResult | typeof nothing {
    const a = this.attachment;
    if (a === undefined) return nothing;
    const error = this._error ? html`<span class="error" role="alert">${this._error}</span>` : nothing;
    if (a.thumbnailUrl !== "") {
      // The thumbnail keeps the image's aspect ratio inside 320 x 320, so the space is reserved before it loads.
      const scale = Math.min(1, 240 / Math.max(a.width, a.height, 1));
      return html`<button
          class="thumb"
          part="attachment-image"
          type="button"
          data-thumbnail
          aria-label=${`Open image ${a.fileName}`}
          @click=${this.#open}
        >
          ${
            this._thumb
              ? html`<img
                  src=${this._thumb}
                  alt=${a.fileName}
                  width=${Math.round(a.width * scale)}
                  height=${Math.round(a.height * scale)}
                />`
              : html`<span
                  class="placeholder"
                  style=${`inline-size:${Math.round(a.width * scale)}px;block-size:${Math.round(a.height * scale)}px`}
                ></span>`
          }
        </button>
        ${error}
        <dialog part="image-dialog" aria-label=${a.fileName} @close=${() => this.requestUpdate()}>
          <div class="dialog-bar">
            <span class="dialog-title">${a.fileName}</span>
            <button class="btn ghost small" part="button" type="button" @click=${this.#download}>Download</button>
            <button class="btn ghost icon" part="button" type="button" aria-label="Close" @click=${this.#close}>${icons.closeIcon}</button>
          </div>
          ${this._full ? html`<img class="full" src=${this._full} alt=${a.fileName} data-full-image />` : html`<p class="loading">Loading…</p>`}
        </dialog>`;
    }
    return html`<div class="chip" part="attachment-file" data-file-chip>
        <span class="file-name">${a.fileName}</span>
        <span class="file-size">${formatBytes(a.sizeBytes)}</span>
        <button class="btn ghost small" part="button" type="button" aria-label=${`Download ${a.fileName}`} @click=${this.#download}>
          Download
        </button>
      </div>
      ${error}`;
  }
}
