// The design tokens every element of <chat-app> starts from: each --_* value is a page's --chat-* custom
// property when set (on chat-app or any ancestor: custom properties inherit into shadow roots) or a default,
// light or dark under prefers-color-scheme. Styles use only the --_* names. The defaults meet WCAG AA contrast
// (4.5:1 for text) in both schemes, checked by axe-core in a11y.browser.test.ts.
import { css } from "lit";

export const tokens = css`
  :host {
    --_accent: var(--chat-accent, #5750e0);
    --_accent-strong: var(--chat-accent-strong, color-mix(in srgb, var(--_accent) 82%, black));
    --_accent-soft: var(--chat-accent-soft, color-mix(in srgb, var(--_accent) 12%, transparent));
    --_accent-fg: var(--chat-accent-fg, #ffffff);
    /* Accent-coloured text on the page's surfaces (room codes, the current room), and error text. */
    --_accent-text: var(--chat-accent-text, var(--_accent-strong));
    --_danger-text: var(--chat-danger-text, var(--_danger));
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
      /* White on it: 4.9:1. Text in the accent colour on dark surfaces is a lighter tint of it. */
      --_accent: var(--chat-accent, #645de8);
      --_accent-text: var(--chat-accent-text, color-mix(in srgb, var(--_accent) 60%, white));
      --_danger-text: var(--chat-danger-text, color-mix(in srgb, var(--_danger) 60%, white));
      color-scheme: dark;
    }
  }
`;
