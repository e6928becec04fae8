// What the page remembers per server in localStorage (the session token, whose rooms and DMs, the open
// view), so a reload stays signed in and in its rooms. Storage that is full or disabled just forgets.
import type { Active } from "./chat-state.ts";

export interface Saved {
  token?: string;
  /** Whose rooms and DMs these are. */
  user?: string;
  rooms?: string[];
  dms?: string[];
  active?: Active;
}

export class SavedSession {
  readonly #serverUrl: () => string;

  constructor(serverUrl: () => string) {
    this.#serverUrl = serverUrl;
  }

  get #key(): string {
    return `protochat:${this.#serverUrl()}`;
  }

  load(): Saved {
    try {
      const raw = globalThis.localStorage?.getItem(this.#key);
      return raw ? (JSON.parse(raw) as Saved) : {};
    } catch {
      return {};
    }
  }

  /** Merges `patch` into what is stored; an undefined value removes that field. */
  save(patch: Partial<Record<keyof Saved, unknown>>): void {
    try {
      const next: Record<string, unknown> = { ...this.load(), ...patch };
      for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
      globalThis.localStorage?.setItem(this.#key, JSON.stringify(next));
    } catch {
      // Storage can be full or disabled: the page then just forgets on reload.
    }
  }
}
