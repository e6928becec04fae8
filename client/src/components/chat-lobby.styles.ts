// Styles of <chat-lobby>: two cards (create, join) and the list of public rooms.
import { css } from "lit";
import { base, controls } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  controls,
  css`
    :host {
      display: flex;
      flex-direction: column;
      flex: 1;
      min-block-size: 0;
    }
    .lobby {
      flex: 1;
      overflow-y: auto;
      padding: 28px 24px;
    }
    .lobby-inner {
      display: grid;
      gap: 20px;
      max-inline-size: 760px;
      margin: 0 auto;
    }
    .lobby h1 {
      font-size: 24px;
      letter-spacing: -0.01em;
    }
    .lobby .lead {
      color: var(--_muted);
      margin-block-start: 4px;
    }
    .cards {
      display: grid;
      grid-template-columns: repeat(auto-fit, minmax(240px, 1fr));
      gap: 16px;
    }
    .card {
      display: grid;
      align-content: start;
      gap: 12px;
      padding: 20px;
      border: 1px solid var(--_border);
      border-radius: var(--_radius);
      background: var(--_raised);
    }
    .card h2 {
      font-size: 16px;
    }
    .card .btn {
      justify-self: start;
    }
    .code-input {
      font-family: var(--_mono);
      letter-spacing: 0.12em;
      text-transform: uppercase;
    }
    .public-list {
      display: grid;
      border: 1px solid var(--_border);
      border-radius: var(--_radius);
      overflow: hidden;
    }
    .public-list li {
      display: flex;
      align-items: center;
      gap: 12px;
      padding: 10px 14px;
      border-block-start: 1px solid var(--_border);
      background: var(--_raised);
    }
    .public-list li:first-child {
      border-block-start: 0;
    }
    .public-list .name {
      flex: 1;
      min-inline-size: 0;
      font-weight: 600;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .public-list .count {
      font-size: 13px;
      color: var(--_muted);
      white-space: nowrap;
    }
    .section-head {
      display: flex;
      align-items: center;
      justify-content: space-between;
      gap: 12px;
      margin-block-end: 10px;
    }
    .section-head h2 {
      font-size: 16px;
    }
    @container (max-width: 680px) {
      .lobby {
        padding: 18px 14px;
      }
    }
  `,
];
