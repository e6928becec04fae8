// The initials avatar, one template shared by the sidebar, the header, the timeline and the member list.
import { html, type TemplateResult } from "lit";
import { styleMap } from "lit/directives/style-map.js";
import { hueOf, initial } from "./format.ts";

/** A name's avatar (decorative: the name is always written next to it); styled by `avatars` in shared.styles.ts. */
export const avatar = (name: string, online: boolean, small = false): TemplateResult =>
  html`<span
    class="avatar ${small ? "small" : ""} ${online ? "online" : ""}"
    style=${styleMap({ "--_hue": String(hueOf(name)) })}
    aria-hidden="true"
    >${initial(name)}</span
  >`;
