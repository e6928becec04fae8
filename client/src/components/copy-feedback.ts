// A reactive controller for <chat-app>'s copy buttons (the room code, the invite link): it copies to the
// clipboard and remembers for 2.5 s what was copied, so the button can say "Copied"; without clipboard
// access the caller's fallback runs instead (select the code, or show the link to copy by hand).
import type { ReactiveController, ReactiveControllerHost } from "lit";

export type CopyWhat = "code" | "link";
export type CopyOutcome = "" | "copied" | "selected";

const SHOWN_MS = 2500;

export class CopyFeedback implements ReactiveController {
  readonly #host: ReactiveControllerHost;
  #last: { readonly code: string; readonly what: CopyWhat; readonly how: Exclude<CopyOutcome, ""> } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(host: ReactiveControllerHost) {
    this.#host = host;
    host.addController(this);
  }

  /** What the last copy of `what` for room `code` did, while it is still shown. */
  outcome(code: string | undefined, what: CopyWhat): CopyOutcome {
    const last = this.#last;
    return last !== undefined && code !== undefined && last.code === code && last.what === what ? last.how : "";
  }

  /** Copies `text`; when the clipboard refuses, `fallback` runs and says whether it selected the text instead. */
  async copy(code: string, what: CopyWhat, text: string, fallback: () => boolean): Promise<void> {
    let how: Exclude<CopyOutcome, ""> | undefined;
    try {
      await navigator.clipboard.writeText(text);
      how = "copied";
    } catch {
      how = fallback() ? "selected" : undefined;
    }
    clearTimeout(this.#timer);
    this.#last = how === undefined ? undefined : { code, what, how };
    this.#host.requestUpdate();
    this.#timer = setTimeout(() => {
      this.#last = undefined;
      this.#host.requestUpdate();
    }, SHOWN_MS);
  }

  hostDisconnected(): void {
    clearTimeout(this.#timer);
  }
}
