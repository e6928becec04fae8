// Sends our own typing state for the room being written in: "typing" at most every half of the server's
// typing TTL (AuthOk.typing_ttl_ms, 5 s by default) while the text changes, "stopped" after four fifths of it
// idle, on send, on blur, on leaving the room, or when the text is emptied.
import { type ChatClient, SESSION_DEFAULTS } from "../sdk/index.ts";

const ttlOf = (client: ChatClient): number => client.session?.typingTtlMs ?? SESSION_DEFAULTS.typingTtlMs;

export class TypingSender {
  readonly #client: () => ChatClient | undefined;
  readonly #joined: (code: string) => boolean;
  #room: string | undefined;
  #sentAt = 0;
  #idle: ReturnType<typeof setTimeout> | undefined;

  constructor(client: () => ChatClient | undefined, joined: (code: string) => boolean) {
    this.#client = client;
    this.#joined = joined;
  }

  /** The room we last said we are typing in, if we have not said we stopped. */
  get room(): string | undefined {
    return this.#room;
  }

  /** The composer's text for `code` changed: announce typing (throttled), or stop when it was emptied. */
  composing(code: string, text: string): void {
    const client = this.#client();
    if (client === undefined) return;
    if (text.trim() === "") {
      this.stop();
      return;
    }
    const now = Date.now();
    const ttl = ttlOf(client);
    if (this.#room !== code || now - this.#sentAt >= ttl / 2) {
      if (this.#room !== undefined && this.#room !== code) this.stop();
      this.#room = code;
      this.#sentAt = now;
      send(() => client.setTyping(code, true));
    }
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.stop(), (ttl * 4) / 5);
  }

  stop(): void {
    clearTimeout(this.#idle);
    const code = this.#room;
    const client = this.#client();
    this.#room = undefined;
    this.#sentAt = 0;
    if (code !== undefined && client !== undefined && this.#joined(code)) send(() => client.setTyping(code, false));
  }

  /** Forgets the state without telling the server (the client is going away). */
  reset(): void {
    clearTimeout(this.#idle);
    this.#room = undefined;
    this.#sentAt = 0;
  }
}

const send = (run: () => void): void => {
  try {
    run();
  } catch {
    // Typing is a hint: not connected right now is fine.
  }
};
