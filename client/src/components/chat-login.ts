// <chat-login>: the sign-in screen: log in or register (username and password), errors in words, and
// "Try again" when a stored session could not be resumed for want of a connection.
import { html, nothing, type TemplateResult } from "lit";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-login.styles.ts";
import { formText } from "./format.ts";

/**
 * @fires chat-login-submit - `{ mode, username, password }` when the form is submitted (not composed).
 * @fires chat-login-mode-change - `{ mode }` when the user switches between Log in and Register.
 * @fires chat-reconnect-request - `{}` from "Try again".
 *
 * @csspart auth - the screen
 * @csspart auth-form - the form
 * @csspart button - every button
 * @csspart input - the two fields
 *
 * @tagname chat-login
 */
export class ChatLogin extends ChatElement {
  static override properties = {
    mode: { type: String, reflect: true },
    error: { type: String },
    busy: { type: Boolean },
    canRetry: { type: Boolean, attribute: "can-retry" },
    server: { type: String },
    invite: { type: String },
  };

  static override styles = styles;

  /** "login" (the default) or "register". */
  declare mode: "login" | "register";
  /** Why the last attempt failed, in words, or "". */
  declare error: string;
  /** An attempt is under way: the submit button is disabled. */
  declare busy: boolean;
  /** Offer "Try again" (resuming the stored session failed for want of a connection). */
  declare canRetry: boolean;
  /** The server's URL, shown at the bottom. */
  declare server: string;
  /** The room code of the invite link the page was opened with: "Log in to join room …". */
  declare invite: string;

  constructor() {
    super();
    this.mode = "login";
    this.error = "";
    this.busy = false;
    this.canRetry = false;
    this.server = "";
    this.invite = "";
  }

  /** The cursor starts in Username. */
  protected override firstUpdated(): void {
    this.focusUsername();
  }

  focusUsername(): void {
    this.renderRoot.querySelector<HTMLInputElement>('input[name="username"]')?.focus();
  }

  protected override render(): TemplateResult {
    const login = this.mode !== "register";
    return html`<main class="center" part="auth">
      <form class="auth-card" part="auth-form" aria-labelledby="auth-title" @submit=${this.#onSubmit}>
        <div class="brand"><span class="logo" aria-hidden="true">◆</span>protochat</div>
        <div>
          <h1 id="auth-title">${login ? "Welcome back" : "Create your account"}</h1>
        </div>
        <p class="sub">${login ? "Log in to pick up where you left off." : "Pick a name others will see. No e-mail needed."}</p>
        ${this.invite ? html`<p class="invite" data-invite-note>You were invited to room <strong>${this.invite}</strong>: log in or register to join it.</p>` : nothing}
        <div class="segmented" role="group" aria-label="Log in or register">
          <button type="button" aria-pressed=${login ? "true" : "false"} @click=${() => this.#setMode("login")}>Log in</button>
          <button type="button" aria-pressed=${login ? "false" : "true"} @click=${() => this.#setMode("register")}>Register</button>
        </div>
        <label class="field"
          >Username
          <input
            class="input"
            part="input"
            name="username"
            autocomplete="username"
            required
            maxlength="64"
            spellcheck="false"
            autocapitalize="none"
          />
        </label>
        <label class="field"
          >Password
          <input
            class="input"
            part="input"
            name="password"
            type="password"
            required
            minlength=${login ? 1 : 8}
            maxlength="256"
            autocomplete=${login ? "current-password" : "new-password"}
            aria-describedby=${login ? nothing : "pw-hint"}
          />
        </label>
        ${login ? nothing : html`<p id="pw-hint" class="muted" style="font-size:13px;margin-top:-8px">At least 8 characters.</p>`}
        ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
        ${this.canRetry ? html`<button type="button" class="btn" part="button" @click=${() => this.emit("chat-reconnect-request", {})}>Try again</button>` : nothing}
        <button class="btn primary" part="button" type="submit" ?disabled=${this.busy}>
          ${this.busy ? (login ? "Logging in…" : "Creating account…") : login ? "Log in" : "Create account"}
        </button>
        <p class="server">Server: ${this.server}</p>
      </form>
    </main>`;
  }

  #setMode(mode: "login" | "register"): void {
    this.mode = mode;
    this.emit("chat-login-mode-change", { mode });
  }

  #onSubmit = (e: SubmitEvent): void => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    const username = formText(data, "username").trim();
    const password = formText(data, "password");
    this.emit("chat-login-submit", { mode: this.mode === "register" ? "register" : "login", username, password });
  };
}
