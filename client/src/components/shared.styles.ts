// Style modules shared by <chat-app>'s elements (each composes the ones it uses after the tokens): the
// reset and focus ring, buttons and fields, avatars, the brand mark, and the centred card screens.
import { css } from "lit";

/** Reset, text defaults, focus ring, screen-reader-only text. */
export const base = css`
  :host {
    font-family: var(--_font);
    font-size: 15px;
    line-height: 1.45;
    color: var(--_fg);
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
  .muted {
    color: var(--_muted);
  }
`;

/** Buttons (.btn, .primary, .ghost, .small, .icon), labelled fields, checkboxes, error lines. */
export const controls = css`
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
    transition:
      background 120ms,
      border-color 120ms;
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
    color: var(--_danger-text);
    font-size: 14px;
  }
`;

/** Round initials avatars (see avatar() in avatar.ts), with an online dot. */
export const avatars = css`
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
  /* While the connection is down nobody's presence is known: the dots go grey. */
  .stale .avatar.online::after {
    background: var(--_muted);
  }
`;

/** The "◆ protochat" mark. */
export const brand = css`
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
`;

/** A card centred on a tinted full-size screen (sign-in, "Connecting…"), and the spinner. */
export const screen = css`
  .center {
    display: grid;
    place-items: center;
    block-size: 100%;
    padding: 24px;
    background:
      radial-gradient(circle at 20% 10%, var(--_accent-soft), transparent 45%),
      radial-gradient(circle at 90% 90%, var(--_accent-soft), transparent 40%), var(--_surface);
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
`;
