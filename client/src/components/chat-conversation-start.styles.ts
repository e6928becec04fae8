// Styles of <chat-conversation-start>: the share card with the large room code.
import { css } from "lit";
import { base, controls } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  controls,
  css`
    :host {
      display: block;
    }
    .share {
      display: grid;
      justify-items: center;
      gap: 10px;
      margin: 24px auto;
      padding: 24px 28px;
      max-inline-size: 420px;
      border: 1px solid var(--_border);
      border-radius: calc(var(--_radius) + 4px);
      background: var(--_surface);
      text-align: center;
    }
    .share h2 {
      font-size: 16px;
    }
    .share p {
      font-size: 14px;
      color: var(--_muted);
    }
    .code-big {
      padding: 6px 16px;
      border-radius: 12px;
      background: var(--_raised);
      border: 1px dashed color-mix(in srgb, var(--_accent) 55%, var(--_border));
      color: var(--_accent-text);
      font-family: var(--_mono);
      font-size: 30px;
      font-weight: 800;
      letter-spacing: 0.18em;
      user-select: all;
    }
  `,
];
