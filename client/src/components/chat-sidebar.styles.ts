// Styles of <chat-sidebar>: the column of rooms, DMs and online users, badges, the connection pill and
// the account row. Where it sits (a column, or a sliding panel on phones) is up to <chat-app>'s layout.
import { css } from "lit";
import { avatars, base, brand, controls } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  controls,
  avatars,
  brand,
  css`
    :host {
      display: flex;
      flex-direction: column;
      min-block-size: 0;
    }
    .sidebar {
      display: flex;
      flex-direction: column;
      flex: 1;
      min-block-size: 0;
      border-inline-end: 1px solid var(--_border);
      background: var(--_surface);
    }
    .side-head {
      display: flex;
      align-items: center;
      justify-content: space-between;
      gap: 6px;
      padding: 14px 12px 10px 14px;
    }
    .side-head .brand {
      min-inline-size: 0;
    }
    .side-scroll {
      flex: 1;
      overflow-y: auto;
      padding: 4px 10px 12px;
    }
    .side-section {
      margin-block-start: 16px;
    }
    .side-section h2 {
      display: flex;
      align-items: center;
      justify-content: space-between;
      padding: 0 8px 6px;
      font-size: 12px;
      font-weight: 700;
      letter-spacing: 0.04em;
      text-transform: uppercase;
      color: var(--_muted);
    }
    .side-empty {
      padding: 4px 8px;
      font-size: 13px;
      color: var(--_muted);
    }
    .item {
      display: flex;
      align-items: center;
      gap: 10px;
      inline-size: 100%;
      min-block-size: 36px;
      padding: 6px 8px;
      border: 0;
      border-radius: 9px;
      background: transparent;
      text-align: start;
      cursor: pointer;
    }
    .item:hover {
      background: color-mix(in srgb, var(--_fg) 6%, transparent);
    }
    .item[aria-current="page"] {
      background: var(--_accent-soft);
      color: var(--_accent-text);
      font-weight: 600;
    }
    .item .label {
      flex: 1;
      min-inline-size: 0;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .item .hash {
      inline-size: 20px;
      text-align: center;
      color: var(--_muted);
      font-weight: 600;
    }
    .item .sub {
      font-family: var(--_mono);
      font-size: 11px;
      color: var(--_muted);
    }
    .item[aria-current="page"] .sub {
      color: inherit;
    }
    .badge {
      min-inline-size: 20px;
      padding: 0 6px;
      border-radius: 999px;
      background: var(--_accent);
      color: var(--_accent-fg);
      font-size: 12px;
      font-weight: 700;
      line-height: 20px;
      text-align: center;
    }
    .new-room {
      margin: 0 4px;
      inline-size: calc(100% - 8px);
    }
    .me {
      display: flex;
      align-items: center;
      gap: 10px;
      padding: 10px 12px;
      border-block-start: 1px solid var(--_border);
    }
    .me .who {
      flex: 1;
      min-inline-size: 0;
      display: grid;
      grid-template-columns: minmax(0, 1fr);
      line-height: 1.2;
    }
    .me {
      flex-wrap: wrap;
      row-gap: 4px;
    }
    .me .notify {
      flex-basis: 100%;
      justify-content: flex-start;
      gap: 6px;
      color: var(--_muted);
    }
    .me .notify .state {
      margin-inline-start: auto;
      font-size: 11.5px;
      font-weight: 700;
    }
    .me .who strong,
    .me .who span {
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
    }
    .me .who span {
      font-size: 12px;
      color: var(--_muted);
    }
    .badge.mention {
      background: var(--_danger);
      color: #ffffff;
    }
    .me .notify[aria-pressed="true"] {
      color: var(--_accent-text);
      background: var(--_accent-soft);
    }
    .status {
      display: inline-flex;
      flex: none;
      align-items: center;
      gap: 5px;
      padding: 3px 8px;
      border-radius: 999px;
      font-size: 11.5px;
      font-weight: 600;
      background: color-mix(in srgb, var(--_c) 14%, transparent);
      color: color-mix(in srgb, var(--_c) 60%, var(--_fg));
    }
    .status::before {
      content: "";
      inline-size: 7px;
      block-size: 7px;
      border-radius: 50%;
      background: var(--_c);
    }
    .status.connected {
      --_c: var(--_success);
    }
    .status.connecting {
      --_c: var(--_warning);
    }
    .status.disconnected {
      --_c: var(--_danger);
    }
  `,
];
