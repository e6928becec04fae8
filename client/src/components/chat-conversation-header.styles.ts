// Styles of <chat-conversation-header>: the title row, the dashed room-code chip; the menu button shows on
// phones and the Members button where the member list is a panel (container widths as in <chat-app>).
import { css } from "lit";
import { avatars, base, controls } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  controls,
  avatars,
  css`
    :host {
      display: block;
    }
    .conv-head {
      display: flex;
      align-items: center;
      gap: 10px;
      min-block-size: 60px;
      padding: 10px 16px;
      border-block-end: 1px solid var(--_border);
    }
    .conv-title {
      flex: 1;
      min-inline-size: 0;
      display: flex;
      align-items: baseline;
      gap: 10px;
    }
    .conv-title h1 {
      font-size: 17px;
      font-weight: 700;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .conv-title .meta {
      font-size: 13px;
      color: var(--_muted);
      white-space: nowrap;
    }
    /* A second row under the title row, the full width of the bar. */
    .temporary {
      flex-basis: 100%;
      margin-block-start: -6px;
      font-size: 12.5px;
      color: var(--_muted);
    }
    .conv-head {
      flex-wrap: wrap;
    }
    .confirm {
      flex-basis: 100%;
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 6px 8px;
      padding: 6px 10px;
      border: 1px solid color-mix(in srgb, var(--_danger) 45%, var(--_border));
      border-radius: 10px;
      background: color-mix(in srgb, var(--_danger) 7%, var(--_raised));
      font-size: 13px;
    }
    .confirm .q {
      font-weight: 700;
    }
    .confirm .why {
      color: color-mix(in srgb, var(--_muted) 70%, var(--_fg));
    }
    .btn.danger {
      background: var(--_danger);
      border-color: var(--_danger);
      color: #ffffff;
    }
    .code-chip {
      display: inline-flex;
      align-items: center;
      gap: 6px;
      min-block-size: 30px;
      padding: 0 10px;
      border: 1px dashed color-mix(in srgb, var(--_accent) 50%, var(--_border));
      border-radius: 8px;
      background: var(--_accent-soft);
      color: var(--_accent-text);
      font-family: var(--_mono);
      font-size: 14px;
      font-weight: 700;
      letter-spacing: 0.08em;
      cursor: pointer;
      white-space: nowrap;
    }
    .code-chip svg {
      inline-size: 15px;
      block-size: 15px;
    }
    .menu-btn,
    .members-btn {
      display: none;
    }
    @container (max-width: 1020px) {
      .members-btn {
        display: inline-flex;
      }
    }
    @container (max-width: 680px) {
      .menu-btn {
        display: inline-flex;
      }
      .conv-head {
        padding: 8px 10px;
        gap: 6px;
      }
      .conv-title .meta,
      .hide-narrow {
        display: none;
      }
    }
  `,
];
