// <chat-toasts>: short error notices in the corner (at most three; each goes by itself after a while).
import { html, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { Toast } from "./chat-state.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-toasts.styles.ts";
import * as icons from "./icons.ts";

/**
 * @fires chat-toast-dismiss - `{ id }` from a toast's Dismiss button.
 *
 * @csspart toast - one notice (role="alert")
 * @csspart button - Dismiss
 *
 * @tagname chat-toasts
 */
export class ChatToasts extends ChatElement {
  static override properties = {
    toasts: { attribute: false },
  };

  static override styles = styles;

  declare toasts: readonly Toast[];

  constructor() {
    super();
    this.toasts = [];
  }

  protected override render(): TemplateResult {
    return html`${repeat(
      this.toasts,
      (t) => t.id,
      (t) =>
        html`<div class="toast" part="toast" role="alert">
          <span class="text">${t.text}</span>
          <button
            class="btn ghost small icon"
            part="button"
            aria-label="Dismiss"
            @click=${() => this.emit("chat-toast-dismiss", { id: t.id })}
          >
            ${icons.closeIcon}
          </button>
        </div>`,
    )}`;
  }
}
