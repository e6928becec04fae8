// A reactive controller for a scrolling log: it stays at the newest entry while the reader is there (new
// messages scroll into view), leaves the reader alone when they scrolled up, and keeps the visible entries
// in place when an older page is put above them. Content that grows after a render (text wrapping once the
// element has its width, fonts) keeps a reader who is at the end there (a ResizeObserver on the content).
import type { ReactiveController, ReactiveControllerHost } from "lit";

/** Within this many pixels of the end counts as "at the newest message". */
const NEAR_END_PX = 96;

export class StickToBottom implements ReactiveController {
  readonly #scroller: () => HTMLElement | null;
  readonly #loading: () => boolean;
  #stick = true;
  #forced = false;
  #anchor: { readonly height: number; readonly top: number } | undefined;
  #resize: ResizeObserver | undefined;
  #observed: Element | undefined;

  /** `loading` says whether the older page asked for is still on its way. */
  constructor(host: ReactiveControllerHost, scroller: () => HTMLElement | null, loading: () => boolean) {
    this.#scroller = scroller;
    this.#loading = loading;
    host.addController(this);
  }

  /** Go to the newest entry on the next update, wherever the reader was. */
  stick(): void {
    this.#forced = true;
  }

  /** An older page is about to be put above: keep what is on screen where it is. */
  keepPositionWhileLoading(): void {
    const el = this.#scroller();
    this.#anchor = el === null ? undefined : { height: el.scrollHeight, top: el.scrollTop };
    this.#stick = false;
  }

  hostUpdate(): void {
    const el = this.#scroller();
    if (el !== null && this.#anchor === undefined) this.#stick = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_END_PX;
  }

  hostUpdated(): void {
    const el = this.#scroller();
    if (el === null) return;
    this.#observe(el);
    if (this.#anchor !== undefined) {
      // Restored once the page is in (or the load failed); until then the reader keeps scrolling as usual.
      if (this.#loading()) return;
      el.scrollTop = el.scrollHeight - this.#anchor.height + this.#anchor.top;
      this.#anchor = undefined;
      return;
    }
    if (this.#forced || this.#stick) {
      el.scrollTop = el.scrollHeight;
      this.#stick = true;
    }
    this.#forced = false;
  }

  hostDisconnected(): void {
    this.#resize?.disconnect();
    this.#resize = undefined;
    this.#observed = undefined;
  }

  /** Watches the log's content: when it grows while the reader is at the end, the end stays in view. */
  #observe(el: HTMLElement): void {
    const content = el.lastElementChild ?? el;
    if (this.#observed === content || typeof ResizeObserver === "undefined") return;
    this.#resize ??= new ResizeObserver(() => {
      const now = this.#scroller();
      if (now !== null && this.#stick && this.#anchor === undefined) now.scrollTop = now.scrollHeight;
    });
    if (this.#observed !== undefined) this.#resize.unobserve(this.#observed);
    this.#resize.observe(content);
    this.#observed = content;
    // The reader's own scrolling says whether they are at the end between renders.
    el.addEventListener("scroll", this.#onScroll, { passive: true });
  }

  #onScroll = (): void => {
    const el = this.#scroller();
    if (el !== null && this.#anchor === undefined) this.#stick = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_END_PX;
  };
}
