// The notices of <chat-app>: the connection banner (lost / reconnecting with a countdown / reconnected /
// disconnected for good), short error toasts, and the line for the polite live region. Timers that take a
// notice away live here; `changed` asks the host to render.
import { describeClose } from "../sdk/index.ts";
import type { Banner, Toast } from "./chat-state.ts";
import { recoveredLine } from "./format.ts";

const TOASTS_SHOWN = 3;
const TOAST_MS = 8000;
const RECONNECTED_BANNER_MS = 8000;
const NOT_RECOVERED_BANNER_MS = 12000;

export class Notices {
  readonly #changed: () => void;
  banner: Banner | undefined;
  toasts: Toast[] = [];
  /** The last line for the polite live region (new messages from others, notices). */
  announcement = "";
  #bannerTimer: ReturnType<typeof setTimeout> | undefined;
  #toastId = 0;

  constructor(changed: () => void) {
    this.#changed = changed;
  }

  announce(text: string): void {
    this.announcement = text;
  }

  toast(text: string): void {
    const id = ++this.#toastId;
    this.toasts = [...this.toasts.slice(-(TOASTS_SHOWN - 1)), { id, text }];
    setTimeout(() => this.dismissToast(id), TOAST_MS);
    this.#changed();
  }

  dismissToast(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
    this.#changed();
  }

  dismissBanner(): void {
    this.banner = undefined;
    this.#changed();
  }

  /** The connection was lost and the SDK retries, after `nextRetryMs` when it says so. */
  connectionLost(nextRetryMs: number | undefined): void {
    clearTimeout(this.#bannerTimer);
    this.banner = {
      text: "Connection lost. Reconnecting…",
      tone: "warn",
      dismissible: false,
      ...(nextRetryMs !== undefined ? { retryAtMs: Date.now() + nextRetryMs, canRetryNow: true } : {}),
    };
    this.announce(
      nextRetryMs !== undefined ? `Connection lost. Reconnecting in ${Math.ceil(nextRetryMs / 1000)} s` : "Connection lost. Reconnecting",
    );
  }

  /** Back, with `recovered` missed messages recovered so far: says so for a while. */
  reconnected(recovered: number): void {
    this.banner = { text: recoveredLine(recovered), tone: "ok", dismissible: true };
    this.announce(this.banner.text);
    clearTimeout(this.#bannerTimer);
    this.#bannerTimer = setTimeout(() => {
      if (this.banner?.tone === "ok") this.dismissBanner();
    }, RECONNECTED_BANNER_MS);
  }

  /** A room's missed messages could not be recovered (history is reloaded instead). */
  notRecovered(stillReconnecting: () => boolean): void {
    this.banner = { text: "Could not recover missed messages — reloaded history", tone: "warn", dismissible: true };
    this.announce(this.banner.text);
    clearTimeout(this.#bannerTimer);
    this.#bannerTimer = setTimeout(() => {
      if (this.banner?.tone === "warn" && !stillReconnecting()) this.dismissBanner();
    }, NOT_RECOVERED_BANNER_MS);
  }

  /** The connection closed for good with `code`: "Disconnected: …" with a Reconnect button. */
  disconnected(code: number): void {
    // "Disconnected: Too much was sent too fast." (the SDK's words may end by saying "Disconnected." again).
    const why = describeClose(code).replace(/\s*Disconnected\.$/, "");
    this.banner = { text: `Disconnected: ${why}`, tone: "warn", canReconnect: true, dismissible: true };
    this.announce(this.banner.text);
  }

  /** Stops the banner's timer (the client is going away). */
  stop(): void {
    clearTimeout(this.#bannerTimer);
  }

  clear(): void {
    this.stop();
    this.banner = undefined;
    this.toasts = [];
  }
}
