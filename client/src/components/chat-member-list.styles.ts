// Styles of <chat-member-list>: the list column; the Close button shows where the list is a panel.
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
      min-block-size: 0;
    }
    .members {
      display: flex;
      flex-direction: column;
      flex: 1;
      min-block-size: 0;
      border-inline-start: 1px solid var(--_border);
      background: var(--_surface);
    }
    .members-head {
      display: flex;
      align-items: center;
      justify-content: space-between;
      min-block-size: 60px;
      padding: 10px 12px 10px 16px;
      border-block-end: 1px solid var(--_border);
    }
    .members-head h2 {
      font-size: 14px;
    }
    .members ul {
      overflow-y: auto;
      padding: 8px;
    }
    .members li {
      display: flex;
      align-items: center;
      gap: 10px;
      padding: 6px 8px;
      font-size: 14px;
    }
    .members li .label {
      flex: 1;
      min-inline-size: 0;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .close-members {
      display: none;
    }
    @container (max-width: 1020px) {
      .close-members {
        display: inline-flex;
      }
    }
  `,
];
