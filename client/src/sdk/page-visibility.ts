// Whether a page shows the client (document.visibilityState), for the reconnect backoff's visible-page cap,
// and a listener for its changes held only while the client waits to reconnect. Outside a browser (Node)
// there is no page: never visible, nothing to listen to.

interface PageDocument {
  readonly visibilityState: string;
  addEventListener(type: "visibilitychange", listener: () => void): void;
  removeEventListener(type: "visibilitychange", listener: () => void): void;
}

const pageDocument = (): PageDocument | undefined => (globalThis as { document?: PageDocument }).document;

export class PageVisibility {
  readonly #onChange: () => void;
  #listening = false;

  constructor(onChange: () => void) {
    this.#onChange = onChange;
  }

  /** A page shows the client now. */
  get visible(): boolean {
    return pageDocument()?.visibilityState === "visible";
  }

  /** Hears visibility changes exactly while `waiting` (so an idle client holds no listener on the page). */
  listenWhile(waiting: boolean): void {
    const doc = pageDocument();
    if (doc === undefined || waiting === this.#listening) return;
    if (waiting) doc.addEventListener("visibilitychange", this.#onChange);
    else doc.removeEventListener("visibilitychange", this.#onChange);
    this.#listening = waiting;
  }
}
