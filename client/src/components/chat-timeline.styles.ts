// Styles of <chat-timeline>: the scrolling log, message bubbles (own on the end side), grouping, delivery
// states and notices.
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
      display: flex;
      flex-direction: column;
      flex: 1;
      min-block-size: 0;
      position: relative;
      --_mention-bg: var(--chat-mention-bg, color-mix(in srgb, var(--_warning) 24%, transparent));
    }
    .day-sep,
    .new-divider {
      display: flex;
      align-items: center;
      gap: 10px;
      margin: 14px 0 4px;
      font-size: 12px;
      font-weight: 600;
      color: var(--_muted);
    }
    .day-sep::before,
    .day-sep::after,
    .new-divider::before,
    .new-divider::after {
      content: "";
      flex: 1;
      border-block-start: 1px solid var(--_border);
    }
    .new-divider {
      color: var(--_danger-text);
    }
    .new-divider::before,
    .new-divider::after {
      border-color: color-mix(in srgb, var(--_danger) 55%, transparent);
    }
    .bubble a {
      color: inherit;
      text-decoration: underline;
      text-underline-offset: 2px;
    }
    .bubble code {
      font-family: var(--_mono);
      font-size: 0.92em;
      padding: 1px 5px;
      border-radius: 5px;
      background: color-mix(in srgb, currentColor 12%, transparent);
    }
    .bubble .mention {
      background: var(--_mention-bg);
      color: inherit;
      font-weight: 700;
      border-radius: 4px;
      padding: 0 2px;
    }
    .jump {
      position: absolute;
      inset-block-end: 12px;
      inset-inline-start: 50%;
      translate: -50% 0;
      box-shadow: 0 4px 14px rgb(0 0 0 / 0.18);
      background: var(--_raised);
    }
    .jump.has-new {
      background: var(--_accent-strong);
      color: var(--_accent-fg);
      border-color: transparent;
    }
    .timeline {
      flex: 1;
      min-block-size: 0;
      overflow-y: auto;
      padding: 16px 20px 8px;
      scroll-behavior: auto;
    }
    .timeline:focus-visible {
      outline-offset: -3px;
    }
    .entries {
      display: flex;
      flex-direction: column;
      gap: 2px;
    }
    .older {
      display: flex;
      justify-content: center;
      margin-block-end: 12px;
    }
    .msg {
      display: flex;
      align-items: flex-end;
      gap: 10px;
      margin-block-start: 10px;
      max-inline-size: min(680px, 88%);
    }
    .msg.cont {
      margin-block-start: 0;
    }
    .msg.own {
      align-self: flex-end;
      flex-direction: row-reverse;
    }
    .msg .avatar-slot {
      inline-size: 32px;
      flex: none;
    }
    .msg.own .avatar-slot {
      display: none;
    }
    .msg .body {
      display: grid;
      gap: 3px;
      min-inline-size: 0;
    }
    .msg.own .body {
      justify-items: end;
    }
    .msg .meta {
      display: flex;
      align-items: baseline;
      gap: 8px;
      padding: 0 4px;
      font-size: 12px;
      color: var(--_muted);
    }
    .msg .sender {
      font-weight: 700;
      font-size: 13px;
      color: var(--_fg);
    }
    .bubble {
      padding: 8px 13px;
      border-radius: var(--_radius);
      border-end-start-radius: 5px;
      background: var(--_other-bg);
      color: var(--_other-fg);
      white-space: pre-wrap;
      overflow-wrap: anywhere;
    }
    .msg.cont .bubble {
      border-start-start-radius: 5px;
    }
    .msg.own .bubble {
      background: var(--_own-bg);
      color: var(--_own-fg);
      border-radius: var(--_radius);
      border-end-end-radius: 5px;
    }
    .msg.own.cont .bubble {
      border-start-end-radius: 5px;
    }
    .msg[data-status="pending"] .bubble {
      opacity: 0.62;
    }
    .msg[data-status="failed"] .bubble {
      background: color-mix(in srgb, var(--_danger) 14%, var(--_bg));
      color: var(--_fg);
      border: 1px solid color-mix(in srgb, var(--_danger) 45%, transparent);
    }
    .delivery {
      display: inline-flex;
      align-items: center;
      gap: 4px;
      padding: 0 4px;
      font-size: 11.5px;
      color: var(--_muted);
    }
    .delivery svg {
      inline-size: 13px;
      block-size: 13px;
    }
    .delivery.failed {
      color: var(--_danger-text);
    }
    .msg .actions {
      align-self: center;
      flex: none;
    }
    .msg .act-toggle {
      opacity: 0.35;
    }
    .msg:hover .act-toggle,
    .msg:focus-within .act-toggle,
    .msg .act-toggle[aria-expanded="true"] {
      opacity: 1;
    }
    /* In the message's column, under its bubble: in the flow, so it is never cut off by the log's edges. */
    .menu {
      display: flex;
      flex-wrap: wrap;
      align-items: center;
      gap: 4px;
      max-inline-size: min(360px, 100%);
      padding: 6px;
      border: 1px solid var(--_border);
      border-radius: var(--_radius);
      background: var(--_raised);
      color: var(--_fg);
      box-shadow: 0 4px 16px color-mix(in srgb, black 14%, transparent);
    }
    .menu .quick,
    .menu .any-emoji {
      display: inline-flex;
      gap: 2px;
    }
    .menu input {
      inline-size: 4.5em;
      font: inherit;
      padding: 2px 6px;
      border: 1px solid var(--_border);
      border-radius: 6px;
      background: var(--_bg);
      color: var(--_fg);
    }
    .menu .emoji[aria-pressed="true"] {
      background: var(--_accent-soft);
    }
    .btn.danger {
      border: 1px solid currentColor;
      background: transparent;
      color: var(--_danger-text);
    }
    .quote {
      max-inline-size: 100%;
      padding: 3px 10px;
      border-inline-start: 3px solid var(--_accent);
      border-radius: 6px;
      background: var(--_surface);
      color: var(--_muted);
      font-size: 12.5px;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .quote-sender {
      font-weight: 700;
      color: var(--_fg);
    }
    .bubble.tombstone {
      background: transparent;
      color: var(--_muted);
      font-style: italic;
      border: 1px dashed var(--_border);
    }
    .edited {
      padding: 0 4px;
      font-size: 11.5px;
      color: var(--_muted);
    }
    .reactions {
      display: flex;
      flex-wrap: wrap;
      gap: 4px;
    }
    .chip {
      display: inline-flex;
      align-items: center;
      gap: 4px;
      padding: 1px 8px;
      border: 1px solid var(--_border);
      border-radius: 999px;
      background: var(--_raised);
      color: var(--_fg);
      font: inherit;
      font-size: 13px;
      cursor: pointer;
    }
    .chip.mine {
      border-color: var(--_accent);
      background: var(--_accent-soft);
    }
    .chip:focus-visible {
      outline: 2px solid var(--_accent);
      outline-offset: 1px;
    }
    .edit {
      display: grid;
      gap: 4px;
      min-inline-size: min(420px, 70vw);
    }
    .edit textarea {
      font: inherit;
      padding: 6px 10px;
      border: 1px solid var(--_border);
      border-radius: var(--_radius);
      background: var(--_bg);
      color: var(--_fg);
      resize: vertical;
    }
    .edit-buttons {
      display: flex;
      gap: 6px;
      justify-content: flex-end;
    }
    .notice {
      align-self: center;
      margin: 10px 0 4px;
      padding: 3px 12px;
      border-radius: 999px;
      background: var(--_surface);
      color: var(--_muted);
      font-size: 12.5px;
      text-align: center;
    }
    .notice.warn {
      background: color-mix(in srgb, var(--_warning) 14%, var(--_bg));
      color: color-mix(in srgb, var(--_warning) 70%, var(--_fg));
    }
    @container (max-width: 680px) {
      .timeline {
        padding: 12px 12px 6px;
      }
      .msg {
        max-inline-size: 92%;
      }
    }
    .attachments {
      display: flex;
      flex-wrap: wrap;
      gap: 6px;
      margin-block: 4px;
    }
    .msg.own .attachments {
      justify-content: flex-end;
    }
  `,
];
