// Styles of <chat-login>: the card on the tinted screen, the Log in / Register switch.
import { css } from "lit";
import { base, brand, controls, screen } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  controls,
  brand,
  screen,
  css`
    :host {
      display: block;
      block-size: 100%;
    }
    .auth-card h1 {
      font-size: 22px;
      line-height: 1.25;
    }
    .auth-card .invite {
      padding: 8px 12px;
      border-radius: 10px;
      background: var(--_accent-soft);
      font-size: 14px;
    }
    .auth-card .sub {
      color: var(--_muted);
      font-size: 14px;
      margin-block-start: -8px;
    }
    .segmented {
      display: grid;
      grid-template-columns: 1fr 1fr;
      padding: 4px;
      gap: 4px;
      border-radius: 12px;
      background: var(--_surface);
    }
    .segmented button {
      min-block-size: 34px;
      border: 0;
      border-radius: 9px;
      background: transparent;
      font-weight: 600;
      color: var(--_muted);
      cursor: pointer;
    }
    .segmented button[aria-pressed="true"] {
      background: var(--_raised);
      color: var(--_fg);
      box-shadow: 0 1px 3px rgb(0 0 0 / 0.12);
    }
    .auth-card .btn.primary {
      min-block-size: 42px;
    }
    .server {
      font-size: 12px;
      color: var(--_muted);
      overflow-wrap: anywhere;
    }
  `,
];
