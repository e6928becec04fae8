// <chat-lobby>: the start page when signed in: create a room (optionally public and persistent), join one
// with a code, or pick one of the public rooms.
import { html, nothing, type TemplateResult } from "lit";
import type { RoomSummary } from "../sdk/index.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-lobby.styles.ts";
import { formText, plural } from "./format.ts";
import * as icons from "./icons.ts";

/**
 * @fires chat-room-create-request - `{ name, persistent }` from "Create room".
 * @fires chat-room-join-request - `{ code }` from "Join room", or Join / Open on a public room.
 * @fires chat-public-rooms-refresh - `{}` from Refresh.
 *
 * @csspart lobby - the page
 * @csspart public-rooms - the list of public rooms
 * @csspart button - every button
 * @csspart input - every text field
 *
 * @tagname chat-lobby
 */
export class ChatLobby extends ChatElement {
  static override properties = {
    me: { type: String },
    publicRooms: { attribute: false },
    publicRoomsLoaded: { type: Boolean, attribute: "public-rooms-loaded" },
    joined: { attribute: false },
    createError: { type: String, attribute: "create-error" },
    joinError: { type: String, attribute: "join-error" },
  };

  static override styles = styles;

  /** The signed-in user's name (the greeting). */
  declare me: string;
  declare publicRooms: readonly RoomSummary[];
  /** The list was loaded at least once ("No public rooms yet" rather than "Loading…"). */
  declare publicRoomsLoaded: boolean;
  /** Codes of the rooms already joined (they offer Open rather than Join). */
  declare joined: ReadonlySet<string>;
  /** Why creating a room failed, in words, or "". */
  declare createError: string;
  /** Why joining a room failed, in words, or "". */
  declare joinError: string;

  constructor() {
    super();
    this.me = "";
    this.publicRooms = [];
    this.publicRoomsLoaded = false;
    this.joined = new Set();
    this.createError = "";
    this.joinError = "";
  }

  /** Puts the cursor in "Room name". */
  focusRoomName(): void {
    this.renderRoot.querySelector<HTMLInputElement>('input[name="name"]')?.focus();
  }

  protected override render(): TemplateResult {
    return html`<div class="lobby" part="lobby">
      <div class="lobby-inner">
        <div>
          <h2 style="font-size:22px">Hi ${this.me}</h2>
          <p class="lead">Create a room and share its code, or join one with a code someone gave you.</p>
        </div>
        <div class="cards">
          <form class="card" aria-labelledby="create-h" @submit=${this.#onCreate}>
            <h2 id="create-h">Create a room</h2>
            <label class="field"
              >Room name <input class="input" part="input" name="name" maxlength="64" placeholder="e.g. Friday standup" autocomplete="off"
            /></label>
            <label class="check"><input type="checkbox" name="persistent" /> Public and persistent (listed for everyone)</label>
            ${this.createError ? html`<p class="error" role="alert">${this.createError}</p>` : nothing}
            <button class="btn primary" part="button" type="submit">Create room</button>
          </form>
          <form class="card" aria-labelledby="join-h" @submit=${this.#onJoin}>
            <h2 id="join-h">Join with a code</h2>
            <label class="field"
              >Room code
              <input
                class="input code-input"
                part="input"
                name="code"
                maxlength="16"
                placeholder="K7QX2M"
                autocomplete="off"
                spellcheck="false"
                autocapitalize="characters"
                required
            /></label>
            ${this.joinError ? html`<p class="error" role="alert">${this.joinError}</p>` : nothing}
            <button class="btn primary" part="button" type="submit">Join room</button>
          </form>
        </div>
        <section aria-labelledby="public-h">
          <div class="section-head">
            <h2 id="public-h">Public rooms</h2>
            <button class="btn ghost small" part="button" @click=${() => this.emit("chat-public-rooms-refresh", {})}>
              ${icons.refreshIcon} Refresh
            </button>
          </div>
          ${
            this.publicRooms.length === 0
              ? html`<p class="muted">${this.publicRoomsLoaded ? "No public rooms yet. Create one above." : "Loading…"}</p>`
              : html`<ul class="public-list" part="public-rooms">
                  ${this.publicRooms.map((s) => {
                    const code = s.room?.code ?? "";
                    const name = s.room?.name || code;
                    const joined = this.joined.has(code);
                    return html`<li data-code=${code}>
                      <span class="hash muted" aria-hidden="true">#</span>
                      <span class="name">${name}</span>
                      <span class="count">${plural(s.memberCount, "person", "people")} here</span>
                      <button
                        class="btn small"
                        part="button"
                        aria-label=${`${joined ? "Open" : "Join"} ${name}`}
                        @click=${() => this.emit("chat-room-join-request", { code })}
                      >
                        ${joined ? "Open" : "Join"}
                      </button>
                    </li>`;
                  })}
                </ul>`
          }
        </section>
      </div>
    </div>`;
  }

  #onCreate = (e: SubmitEvent): void => {
    e.preventDefault();
    const data = new FormData(e.currentTarget as HTMLFormElement);
    this.emit("chat-room-create-request", { name: formText(data, "name").trim(), persistent: data.get("persistent") !== null });
  };

  #onJoin = (e: SubmitEvent): void => {
    e.preventDefault();
    this.emit("chat-room-join-request", { code: formText(new FormData(e.currentTarget as HTMLFormElement), "code") });
  };
}
