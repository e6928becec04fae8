// <chat-banner>: the connection notice under the header: "Connection lost. Reconnecting in 3 s…" (counting
// down), "Reconnected — 3 missed messages recovered", or "Disconnected: …" with a Reconnect button.
import { html, nothing, type TemplateResult } from "lit";
import type { Banner } from "./chat-state.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-banner.styles.ts";
import { Clock } from "./clock.ts";
import { reconnectLine } from "./format.ts";
import * as icons from "./icons.ts";

/**
 * Renders nothing while `banner` is undefined.
 *
 * @fires chat-reconnect-request - `{}` from Reconnect.
 * @fires chat-retry-now - `{}` from "Retry now" (while waiting for the next automatic attempt).
 * @fires chat-banner-dismiss - `{}` from the dismiss button.
 *
 * @csspart banner - the notice (data-tone: info, warn, ok)
 * @csspart button - Reconnect, Retry now and dismiss
 *
 * @cssproperty --chat-warning - the tint while the connection is lost or closed
 * @cssproperty --chat-success - the tint once reconnected
 *
 * @tagname chat-banner
 */
export class ChatBanner extends ChatElement {
  static override properties = {
    banner: { attribute: false },
  };

  static override styles = styles;

  declare banner: Banner | undefined;

  readonly #clock = new Clock(this, () => this.banner?.retryAtMs !== undefined);

  constructor() {
    super();
    this.banner = undefined;
  }

  protected override render(): TemplateResult | typeof nothing {
    const b = this.banner;
    if (b === undefined) return nothing;
    const text = b.retryAtMs !== undefined ? reconnectLine(b.retryAtMs, this.#clock.now) : b.text;
    return html`<div class="banner ${b.tone}" part="banner" data-tone=${b.tone}>
      <span class="text">${text}</span>
      ${
        b.canRetryNow && b.retryAtMs !== undefined && b.retryAtMs > this.#clock.now
          ? html`<button class="btn small" part="button" data-retry-now @click=${() => this.emit("chat-retry-now", {})}>Retry now</button>`
          : nothing
      }
      ${b.canReconnect ? html`<button class="btn small" part="button" @click=${() => this.emit("chat-reconnect-request", {})}>Reconnect</button>` : nothing}
      ${
        b.dismissible
          ? html`<button
              class="btn ghost small icon"
              part="button"
              aria-label="Dismiss notice"
              @click=${() => this.emit("chat-banner-dismiss", {})}
            >
              ${icons.closeIcon}
            </button>`
          : nothing
      }
    </div>`;
  }
}
