// Styles of <chat-app>. Every colour, the font and the radius come from a --chat-* custom property with a
// default (light, or dark under prefers-color-scheme: dark), so a page themes the component from outside.
import { css } from "lit";

export const styles = css`
  :host {
    --_accent: var(--chat-accent, #5750e0);
    --_accent-strong: var(--chat-accent-strong, color-mix(in srgb, var(--_accent) 82%, black));
    --_accent-soft: var(--chat-accent-soft, color-mix(in srgb, var(--_accent) 12%, transparent));
    --_accent-fg: var(--chat-accent-fg, #ffffff);
    --_bg: var(--chat-bg, #ffffff);
    --_fg: var(--chat-fg, #1b1f29);
    --_muted: var(--chat-muted, #687083);
    --_surface: var(--chat-surface, #f5f6f9);
    --_raised: var(--chat-raised, #ffffff);
    --_border: var(--chat-border, #e3e6ec);
    --_own-bg: var(--chat-own-bg, var(--_accent));
    --_own-fg: var(--chat-own-fg, var(--_accent-fg));
    --_other-bg: var(--chat-other-bg, #eef0f5);
    --_other-fg: var(--chat-other-fg, var(--_fg));
    --_danger: var(--chat-danger, #c2364a);
    --_success: var(--chat-success, #1e9e5a);
    --_warning: var(--chat-warning, #b86e00);
    --_radius: var(--chat-radius, 14px);
    --_font: var(--chat-font, system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, sans-serif);
    --_mono: var(--chat-mono-font, ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace);
    --_sidebar-width: var(--chat-sidebar-width, 264px);
    --_members-width: var(--chat-members-width, 224px);
    --_focus: 0 0 0 3px color-mix(in srgb, var(--_accent) 45%, transparent);

    display: block;
    position: relative;
    container-type: inline-size;
    block-size: 100%;
    min-block-size: 420px;
    overflow: hidden;
    font-family: var(--_font);
    font-size: 15px;
    line-height: 1.45;
    color: var(--_fg);
    background: var(--_bg);
    color-scheme: light;
  }
  @media (prefers-color-scheme: dark) {
    :host {
      --_bg: var(--chat-bg, #14161c);
      --_fg: var(--chat-fg, #e7e9ef);
      --_muted: var(--chat-muted, #98a0b1);
      --_surface: var(--chat-surface, #1b1e26);
      --_raised: var(--chat-raised, #20242d);
      --_border: var(--chat-border, #2c313c);
      --_other-bg: var(--chat-other-bg, #262a35);
      --_accent: var(--chat-accent, #7a73ff);
      color-scheme: dark;
    }
  }
  :host([hidden]) {
    display: none;
  }
  *,
  *::before,
  *::after {
    box-sizing: border-box;
  }
  button,
  input,
  textarea {
    font: inherit;
    color: inherit;
  }
  h1,
  h2,
  h3,
  p,
  ul,
  ol {
    margin: 0;
    padding: 0;
  }
  ul,
  ol {
    list-style: none;
  }
  :focus-visible {
    outline: 2px solid var(--_accent);
    outline-offset: 2px;
  }
  input:focus-visible,
  textarea:focus-visible {
    outline: none;
    border-color: var(--_accent);
    box-shadow: var(--_focus);
  }
  .sr-only {
    position: absolute;
    inline-size: 1px;
    block-size: 1px;
    overflow: hidden;
    clip-path: inset(50%);
    white-space: nowrap;
  }

  /* ---- controls ---- */
  .btn {
    display: inline-flex;
    align-items: center;
    justify-content: center;
    gap: 6px;
    min-block-size: 36px;
    padding: 0 14px;
    border: 1px solid var(--_border);
    border-radius: 10px;
    background: var(--_raised);
    cursor: pointer;
    font-weight: 550;
    white-space: nowrap;
    transition: background 120ms, border-color 120ms;
  }
  .btn:hover {
    border-color: color-mix(in srgb, var(--_accent) 40%, var(--_border));
  }
  .btn.primary {
    background: var(--_accent);
    border-color: var(--_accent);
    color: var(--_accent-fg);
  }
  .btn.primary:hover {
    background: var(--_accent-strong);
  }
  .btn.ghost {
    border-color: transparent;
    background: transparent;
  }
  .btn.ghost:hover {
    background: var(--_accent-soft);
  }
  .btn.small {
    min-block-size: 30px;
    padding: 0 10px;
    font-size: 13px;
  }
  .btn.icon {
    padding: 0;
    inline-size: 36px;
  }
  .btn[disabled] {
    opacity: 0.55;
    cursor: default;
  }
  .btn svg {
    inline-size: 18px;
    block-size: 18px;
    flex: none;
  }
  .field {
    display: grid;
    gap: 6px;
    font-size: 13px;
    font-weight: 600;
    color: var(--_muted);
  }
  .input {
    inline-size: 100%;
    min-block-size: 40px;
    padding: 8px 12px;
    border: 1px solid var(--_border);
    border-radius: 10px;
    background: var(--_bg);
    font-size: 15px;
    font-weight: 400;
    color: var(--_fg);
  }
  .input::placeholder,
  textarea::placeholder {
    color: color-mix(in srgb, var(--_muted) 75%, transparent);
  }
  .check {
    display: flex;
    align-items: center;
    gap: 8px;
    font-size: 14px;
    color: var(--_fg);
  }
  .check input {
    inline-size: 16px;
    block-size: 16px;
    accent-color: var(--_accent);
  }
  .error {
    color: var(--_danger);
    font-size: 14px;
  }
  .muted {
    color: var(--_muted);
  }

  /* ---- auth ---- */
  .center {
    display: grid;
    place-items: center;
    block-size: 100%;
    padding: 24px;
    background:
      radial-gradient(circle at 20% 10%, var(--_accent-soft), transparent 45%),
      radial-gradient(circle at 90% 90%, var(--_accent-soft), transparent 40%),
      var(--_surface);
    overflow: auto;
  }
  .auth-card {
    inline-size: min(400px, 100%);
    display: grid;
    gap: 16px;
    padding: 32px 28px;
    border: 1px solid var(--_border);
    border-radius: calc(var(--_radius) + 4px);
    background: var(--_raised);
    box-shadow: 0 12px 40px rgb(20 20 50 / 0.08);
  }
  .auth-card h1 {
    font-size: 22px;
    line-height: 1.25;
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
  .brand {
    display: flex;
    align-items: center;
    gap: 8px;
    font-weight: 750;
    font-size: 16px;
    letter-spacing: -0.01em;
  }
  .logo {
    display: inline-grid;
    place-items: center;
    inline-size: 28px;
    block-size: 28px;
    border-radius: 8px;
    background: var(--_accent);
    color: var(--_accent-fg);
    font-size: 15px;
  }
  .spinner {
    inline-size: 28px;
    block-size: 28px;
    border: 3px solid var(--_border);
    border-top-color: var(--_accent);
    border-radius: 50%;
    animation: spin 0.8s linear infinite;
  }
  @keyframes spin {
    to {
      transform: rotate(360deg);
    }
  }
  @media (prefers-reduced-motion: reduce) {
    .spinner {
      animation-duration: 3s;
    }
  }

  /* ---- layout ---- */
  .app {
    display: grid;
    grid-template-columns: var(--_sidebar-width) minmax(0, 1fr);
    block-size: 100%;
  }
  .app.with-members {
    grid-template-columns: var(--_sidebar-width) minmax(0, 1fr) var(--_members-width);
  }
  .sidebar {
    display: flex;
    flex-direction: column;
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
    color: var(--_accent-strong);
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
    line-height: 1.2;
  }
  .me .who strong {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .me .who span {
    font-size: 12px;
    color: var(--_muted);
  }

  /* connection status */
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
    color: color-mix(in srgb, var(--_c) 85%, var(--_fg));
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

  /* avatars */
  .avatar {
    position: relative;
    display: inline-grid;
    place-items: center;
    flex: none;
    inline-size: 32px;
    block-size: 32px;
    border-radius: 50%;
    background: hsl(var(--_hue, 240) 60% 88%);
    color: hsl(var(--_hue, 240) 45% 30%);
    font-size: 14px;
    font-weight: 700;
  }
  .avatar.small {
    inline-size: 24px;
    block-size: 24px;
    font-size: 11px;
  }
  .avatar.online::after {
    content: "";
    position: absolute;
    inset-block-end: -1px;
    inset-inline-end: -1px;
    inline-size: 10px;
    block-size: 10px;
    border-radius: 50%;
    background: var(--_success);
    border: 2px solid var(--_surface);
  }

  /* ---- main ---- */
  .main {
    display: flex;
    flex-direction: column;
    min-inline-size: 0;
    min-block-size: 0;
    background: var(--_bg);
  }
  .conv-head {
    display: flex;
    align-items: center;
    gap: 10px;
    min-block-size: 60px;
    padding: 10px 16px;
    border-block-end: 1px solid var(--_border);
  }
  .conv-title {
    flex: 1;
    min-inline-size: 0;
    display: flex;
    align-items: baseline;
    gap: 10px;
  }
  .conv-title h1 {
    font-size: 17px;
    font-weight: 700;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .conv-title .meta {
    font-size: 13px;
    color: var(--_muted);
    white-space: nowrap;
  }
  .code-chip {
    display: inline-flex;
    align-items: center;
    gap: 6px;
    min-block-size: 30px;
    padding: 0 10px;
    border: 1px dashed color-mix(in srgb, var(--_accent) 50%, var(--_border));
    border-radius: 8px;
    background: var(--_accent-soft);
    color: var(--_accent-strong);
    font-family: var(--_mono);
    font-size: 14px;
    font-weight: 700;
    letter-spacing: 0.08em;
    cursor: pointer;
    white-space: nowrap;
  }
  .code-chip svg {
    inline-size: 15px;
    block-size: 15px;
  }
  .menu-btn {
    display: none;
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

  /* timeline */
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
    color: var(--_danger);
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
    color: var(--_accent-strong);
    font-family: var(--_mono);
    font-size: 30px;
    font-weight: 800;
    letter-spacing: 0.18em;
    user-select: all;
  }
  .typing {
    min-block-size: 22px;
    padding: 0 22px;
    font-size: 12.5px;
    font-style: italic;
    color: var(--_muted);
  }
  .composer {
    display: flex;
    align-items: flex-end;
    gap: 8px;
    margin: 0 16px 16px;
    padding: 6px 6px 6px 14px;
    border: 1px solid var(--_border);
    border-radius: calc(var(--_radius) + 2px);
    background: var(--_raised);
  }
  .composer:focus-within {
    border-color: var(--_accent);
    box-shadow: var(--_focus);
  }
  .composer textarea {
    flex: 1;
    min-block-size: 36px;
    max-block-size: 160px;
    padding: 7px 0;
    border: 0;
    background: transparent;
    resize: none;
    field-sizing: content;
    font-size: 15px;
    line-height: 1.45;
  }
  .composer textarea:focus-visible {
    box-shadow: none;
  }
  .composer-error {
    margin: -10px 20px 10px;
  }

  /* lobby */
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

  /* members */
  .members {
    display: flex;
    flex-direction: column;
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
  .close-members,
  .members-btn {
    display: none;
  }

  /* toasts */
  .toasts {
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

  .scrim {
    display: none;
  }

  /* ---- narrower containers: the member list becomes a panel over the timeline ---- */
  @container (max-width: 1020px) {
    .app.with-members {
      grid-template-columns: var(--_sidebar-width) minmax(0, 1fr);
    }
    .members {
      position: absolute;
      inset-block: 0;
      inset-inline-end: 0;
      inline-size: min(280px, 85%);
      z-index: 20;
      box-shadow: -12px 0 32px rgb(0 0 0 / 0.15);
      display: none;
    }
    .app.members-open .members {
      display: flex;
    }
    .app.members-open .scrim {
      display: block;
      position: absolute;
      inset: 0;
      z-index: 15;
      background: rgb(0 0 0 / 0.25);
      border: 0;
    }
    .close-members,
    .members-btn {
      display: inline-flex;
    }
  }

  /* ---- phones: the sidebar slides over the conversation ---- */
  @container (max-width: 680px) {
    .app,
    .app.with-members {
      grid-template-columns: minmax(0, 1fr);
    }
    .sidebar {
      position: absolute;
      inset-block: 0;
      inset-inline-start: 0;
      inline-size: min(300px, 85%);
      z-index: 20;
      box-shadow: 12px 0 32px rgb(0 0 0 / 0.18);
      display: none;
    }
    .app.sidebar-open .sidebar {
      display: flex;
    }
    .app.sidebar-open .scrim {
      display: block;
      position: absolute;
      inset: 0;
      z-index: 15;
      background: rgb(0 0 0 / 0.3);
      border: 0;
    }
    .menu-btn {
      display: inline-flex;
    }
    .conv-head {
      padding: 8px 10px;
      gap: 6px;
    }
    .conv-title .meta,
    .hide-narrow {
      display: none;
    }
    .timeline {
      padding: 12px 12px 6px;
    }
    .msg {
      max-inline-size: 92%;
    }
    .composer {
      margin: 0 10px 10px;
    }
    .lobby {
      padding: 18px 14px;
    }
  }
`;
