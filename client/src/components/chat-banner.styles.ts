// Styles of <chat-banner>: a full-width strip tinted by its tone.
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
    .banner {
      display: flex;
      align-items: center;
      gap: 10px;
      padding: 8px 16px;
      font-size: 14px;
      font-weight: 550;
      border-block-end: 1px solid var(--_border);
      background: color-mix(in srgb, var(--_c) 12%, var(--_bg));
      color: color-mix(in srgb, var(--_c) 70%, var(--_fg));
    }
    .banner .text {
      flex: 1;
    }
    .banner.warn {
      --_c: var(--_warning);
    }
    .banner.ok {
      --_c: var(--_success);
    }
    .banner.info {
      --_c: var(--_accent);
    }
  `,
];
