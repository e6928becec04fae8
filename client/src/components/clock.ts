// A reactive controller that re-renders its host every `everyMs` while `running()` says so (a countdown),
// and stops its timer when that turns false or the host leaves the page.
import type { ReactiveController, ReactiveControllerHost } from "lit";

export class Clock implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  readonly #running: () => boolean;
  readonly #everyMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The time of the host's current render. */
  now = Date.now();

  constructor(host: ReactiveControllerHost, running: () => boolean, everyMs = 250) {
    this.#host = host;
    this.#running = running;
    this.#everyMs = everyMs;
    host.addController(this);
  }

  hostUpdate(): void {
    this.now = Date.now();
  }

  hostUpdated(): void {
    const running = this.#running();
    if (running && this.#timer === undefined) this.#timer = setInterval(() => this.#host.requestUpdate(), this.#everyMs);
    if (!running) this.hostDisconnected();
  }

  hostDisconnected(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
