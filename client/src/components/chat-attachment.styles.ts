// Styles of <chat-attachment>: the thumbnail button, the file chip and the full-image dialog.
import { css } from "lit";
import { base, controls } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  controls,
  css`
    :host {
      display: inline-block;
      max-inline-size: 100%;
    }
    .thumb {
      display: block;
      padding: 0;
      border: 1px solid var(--_border, transparent);
      border-radius: var(--_radius);
      background: var(--_raised);
      cursor: zoom-in;
      overflow: hidden;
    }
    .thumb:focus-visible {
      outline: 2px solid var(--_accent);
      outline-offset: 2px;
    }
    .thumb img,
    .placeholder {
      display: block;
      max-inline-size: 240px;
      block-size: auto;
    }
    .chip {
      display: inline-flex;
      align-items: center;
      gap: 8px;
      padding: 6px 6px 6px 12px;
      border-radius: var(--_radius);
      background: var(--_raised);
      font-size: 13px;
    }
    .file-name {
      font-weight: 600;
      overflow-wrap: anywhere;
    }
    .file-size {
      color: var(--_muted);
      white-space: nowrap;
    }
    dialog {
      max-inline-size: min(92vw, 1200px);
      max-block-size: 92vh;
      padding: 8px;
      border: none;
      border-radius: var(--_radius);
      background: var(--_surface, #fff);
      color: inherit;
    }
    dialog::backdrop {
      background: rgb(0 0 0 / 0.7);
    }
    .dialog-bar {
      display: flex;
      align-items: center;
      gap: 8px;
      margin-block-end: 8px;
    }
    .dialog-title {
      flex: 1;
      font-weight: 600;
      overflow-wrap: anywhere;
    }
    .full {
      display: block;
      max-inline-size: 100%;
      max-block-size: calc(92vh - 64px);
      margin: auto;
    }
    .error {
      display: block;
      font-size: 12.5px;
      color: var(--_danger, #b00020);
    }
  `,
];
