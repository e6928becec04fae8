// <chat-sidebar>: rooms (with unread and @mention counts), direct messages, who is online (dots greyed while
// the connection is down: nobody's presence is known then), the connection pill, and the signed-in user with
// Log out and the desktop-notifications switch.
import { html, nothing, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import type { ConnectionState } from "../sdk/index.ts";
import type { NotificationsState } from "./attention.ts";
import { avatar } from "./avatar.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-sidebar.styles.ts";
import { type Active, type DirectView, nameKey, type RoomView, roomTitle } from "./chat-state.ts";
import { plural } from "./format.ts";
import * as icons from "./icons.ts";

/**
 * @fires chat-navigate - `{ to }` (the lobby, a room or a DM) when an entry is picked.
 * @fires chat-logout-request - `{}` from Log out.
 * @fires chat-notifications-toggle - `{ on }` from the desktop-notifications switch.
 *
 * @csspart sidebar - the navigation column
 * @csspart connection-status - the status pill (data-state: connected, connecting, disconnected)
 * @csspart room-item - a room
 * @csspart dm-item - a DM conversation
 * @csspart online-item - a user online now
 * @csspart account - the signed-in user at the bottom
 * @csspart unread-badge - a conversation's unread count
 * @csspart mention-badge - a conversation's count of messages that @mention the reader
 * @csspart notifications-button - the desktop-notifications switch (aria-pressed)
 * @csspart logout-button - Log out (also part button)
 * @csspart button - every button
 *
 * @tagname chat-sidebar
 */
export class ChatSidebar extends ChatElement {
  static override properties = {
    rooms: { attribute: false },
    dms: { attribute: false },
    online: { attribute: false },
    active: { attribute: false },
    me: { type: String },
    connection: { type: String },
    notifications: { type: String },
  };

  static override styles = styles;

  declare rooms: readonly RoomView[];
  declare dms: readonly DirectView[];
  /** Other users online now. */
  declare online: readonly string[];
  /** The open view (marked aria-current). */
  declare active: Active;
  /** The signed-in user's name. */
  declare me: string;
  declare connection: ConnectionState;
  /** Desktop notifications: "on", "off", "blocked" (by the browser) or "unsupported" (no switch shown). */
  declare notifications: NotificationsState;

  constructor() {
    super();
    this.rooms = [];
    this.dms = [];
    this.online = [];
    this.active = { kind: "lobby" };
    this.me = "";
    this.connection = "disconnected";
    this.notifications = "unsupported";
  }

  #badges(v: { readonly unread: number; readonly mentions: number }): TemplateResult | typeof nothing {
    if (v.unread === 0) return nothing;
    return html`${v.mentions > 0 ? html`<span class="badge mention" part="mention-badge" data-mentions=${v.mentions} aria-hidden="true">@${v.mentions}</span>` : nothing}<span
        class="badge"
        part="unread-badge"
        data-unread=${v.unread}
        aria-hidden="true"
        >${v.unread}</span
      >`;
  }

  /**
   * ", 3 unread messages, 1 mention" for a conversation's accessible name. Names come from the visible text
   * plus words only screen readers get (no aria-label), so the visible text is always part of the name.
   */
  #unreadWords(v: { readonly unread: number; readonly mentions: number }): string {
    if (v.unread === 0) return "";
    return `, ${plural(v.unread, "unread message")}${v.mentions > 0 ? `, ${plural(v.mentions, "mention")}` : ""}`;
  }

  protected override render(): TemplateResult {
    const a = this.active;
    const online = new Set(this.online.map(nameKey));
    const isOnline = (name: string) => online.has(nameKey(name)) || nameKey(name) === nameKey(this.me);
    const state = this.connection;
    const label = state === "connected" ? "Connected" : state === "connecting" ? "Connecting" : "Offline";
    return html`<nav class="sidebar ${state === "connected" ? "" : "stale"}" part="sidebar" aria-label="Rooms and people">
      <div class="side-head">
        <div class="brand"><span class="logo" aria-hidden="true">◆</span>protochat</div>
        <span class="status ${state}" part="connection-status" data-state=${state} title=${`Connection: ${label}`}>${label}</span>
      </div>
      <div class="side-scroll">
        <button
          class="btn new-room"
          part="button"
          @click=${() => this.#go({ kind: "lobby" })}
          aria-current=${a.kind === "lobby" ? "page" : nothing}
        >
          ${icons.plusIcon} New room or join
        </button>
        <section class="side-section" aria-labelledby="rooms-h">
          <h2 id="rooms-h">Rooms</h2>
          ${this.rooms.length === 0 ? html`<p class="side-empty">No rooms yet.</p>` : nothing}
          <ul>
            ${repeat(
              this.rooms,
              (r) => r.code,
              (r) =>
                html`<li>
                  <button
                    class="item"
                    part="room-item"
                    data-code=${r.code}
                    aria-current=${a.kind === "room" && a.code === r.code ? "page" : nothing}
                    @click=${() => this.#go({ kind: "room", code: r.code })}
                  >
                    <span class="hash" aria-hidden="true">#</span>
                    <span class="label">${roomTitle(r)}</span>
                    ${r.unread > 0 ? html`${this.#badges(r)}<span class="sr-only">${this.#unreadWords(r)}</span>` : html`<span class="sub">${r.code}</span>`}
                  </button>
                </li>`,
            )}
          </ul>
        </section>
        <section class="side-section" aria-labelledby="dms-h">
          <h2 id="dms-h">Direct messages</h2>
          ${this.dms.length === 0 ? html`<p class="side-empty">Pick someone online to start.</p>` : nothing}
          <ul>
            ${repeat(
              this.dms,
              (d) => d.peer.toLowerCase(),
              (d) => {
                const on = isOnline(d.peer);
                return html`<li>
                  <button
                    class="item"
                    part="dm-item"
                    data-peer=${d.peer}
                    aria-current=${a.kind === "dm" && a.peer.toLowerCase() === d.peer.toLowerCase() ? "page" : nothing}
                    @click=${() => this.#go({ kind: "dm", peer: d.peer })}
                  >
                    ${avatar(d.peer, on, true)}
                    <span class="label">${d.peer}</span>
                    ${this.#badges(d)}<span class="sr-only">${on ? ", online" : ""}${this.#unreadWords(d)}</span>
                  </button>
                </li>`;
              },
            )}
          </ul>
        </section>
        <section class="side-section" aria-labelledby="online-h">
          <h2 id="online-h">
            Online <span aria-label=${plural(this.online.length, "person", "people") + " online"}>${this.online.length}</span>
          </h2>
          ${this.online.length === 0 ? html`<p class="side-empty">Nobody else is online.</p>` : nothing}
          <ul>
            ${repeat(
              this.online,
              (u) => u.toLowerCase(),
              (u) =>
                html`<li>
                  <button class="item" part="online-item" data-user=${u} @click=${() => this.#go({ kind: "dm", peer: u })}>
                    ${avatar(u, true, true)}
                    <span class="label">${u}</span><span class="sr-only">, send a message</span>
                  </button>
                </li>`,
            )}
          </ul>
        </section>
      </div>
      <div class="me" part="account">
        ${avatar(this.me || "?", state === "connected")}
        <div class="who">
          <strong data-me>${this.me}</strong>
          <span>${state === "connected" ? "Online" : state === "connecting" ? "Reconnecting…" : "Offline"}</span>
        </div>
        <button class="btn ghost small" part="button logout-button" @click=${() => this.emit("chat-logout-request", {})}>
          ${icons.logoutIcon} Log out
        </button>
        ${
          this.notifications === "unsupported"
            ? nothing
            : html`<button
                class="btn ghost small notify"
                part="button notifications-button"
                data-notifications=${this.notifications}
                aria-pressed=${this.notifications === "on" ? "true" : "false"}
                title=${this.notifications === "blocked" ? "Blocked in the browser's settings for this site" : this.notifications === "on" ? "Shown while this page is hidden" : "Turn on to hear about messages while this page is hidden"}
                @click=${() => this.emit("chat-notifications-toggle", { on: this.notifications !== "on" })}
              >
                ${icons.bellIcon} Desktop notifications
                <span class="state" aria-hidden="true">${this.notifications === "on" ? "On" : "Off"}</span>
              </button>`
        }
      </div>
    </nav>`;
  }

  #go(to: Active): void {
    this.emit("chat-navigate", { to });
  }
}
