// Styles of <chat-toasts>: a stack in the end-bottom corner, inverted colours.
import { css } from "lit";
import { base, controls } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  controls,
  css`
    :host {
      position: absolute;
      inset-block-end: 16px;
      inset-inline-end: 16px;
      display: grid;
      gap: 8px;
      z-index: 30;
      max-inline-size: min(380px, calc(100% - 32px));
    }
    .toast {
      display: flex;
      align-items: flex-start;
      gap: 8px;
      padding: 10px 10px 10px 14px;
      border-radius: 12px;
      background: var(--_fg);
      color: var(--_bg);
      font-size: 14px;
      box-shadow: 0 8px 24px rgb(0 0 0 / 0.18);
    }
    .toast .text {
      flex: 1;
      padding-block-start: 5px;
    }
    .toast .btn {
      color: inherit;
    }
  `,
];
