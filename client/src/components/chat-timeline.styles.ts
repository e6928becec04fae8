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
  `,
];
