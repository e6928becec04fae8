// <chat-member-list>: the members of the open room, the user marked "you"; a column on wide layouts and a
// panel with a Close button on narrower ones (placed by <chat-app>). Their online dots are grey while the
// connection is down (who is still there is not known then).
import { html, nothing, type TemplateResult } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { avatar } from "./avatar.ts";
import { ChatElement } from "./chat-element.ts";
import { styles } from "./chat-member-list.styles.ts";
import { nameKey } from "./chat-state.ts";
import { plural } from "./format.ts";
import * as icons from "./icons.ts";

/**
 * @fires chat-members-close - `{}` from "Close member list".
 *
 * @csspart members - the list's panel
 * @csspart button - the Close button
 *
 * @tagname chat-member-list
 */
export class ChatMemberList extends ChatElement {
  static override properties = {
    members: { attribute: false },
    memberCount: { type: Number, attribute: "member-count" },
    roomTitle: { type: String, attribute: "room-title" },
    me: { type: String },
    stale: { type: Boolean },
  };

  static override styles = styles;

  /** Members' names, sorted. */
  declare members: readonly string[];
  /** How many are in the room (the server's count). */
  declare memberCount: number;
  /** The room's title, for the list's label. */
  declare roomTitle: string;
  /** The signed-in user's name (marked "you"). */
  declare me: string;
  /** The connection is down: presence is not known, the dots are grey. */
  declare stale: boolean;

  constructor() {
    super();
    this.members = [];
    this.memberCount = 0;
    this.roomTitle = "";
    this.me = "";
    this.stale = false;
  }

  protected override render(): TemplateResult {
    const me = nameKey(this.me);
    return html`<aside class="members ${this.stale ? "stale" : ""}" part="members" aria-labelledby="members-h">
      <div class="members-head">
        <h2 id="members-h">Members <span class="muted" data-member-count=${this.memberCount}>${this.memberCount}</span></h2>
        <button
          class="btn ghost small icon close-members"
          part="button"
          aria-label="Close member list"
          @click=${() => this.emit("chat-members-close", {})}
        >
          ${icons.closeIcon}
        </button>
      </div>
      <ul aria-label=${`${plural(this.memberCount, "member")} in ${this.roomTitle}`}>
        ${repeat(
          this.members,
          (m) => m.toLowerCase(),
          (m) =>
            html`<li data-member=${m}>
              ${avatar(m, true, true)}
              <span class="label">${m}</span>
              ${this.me !== "" && nameKey(m) === me ? html`<span class="muted" style="font-size:12px">you</span>` : nothing}
            </li>`,
        )}
      </ul>
    </aside>`;
  }
}
