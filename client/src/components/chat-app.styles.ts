// Styles of <chat-app>: its host (size, font, container for the responsive layout), the grid of sidebar,
// main pane and member list, and how that grid folds on narrower containers: the member list becomes a
// panel (under 1020px), the sidebar a sliding menu (under 680px). The inner elements style themselves.
import { css } from "lit";
import { base, screen } from "./shared.styles.ts";
import { tokens } from "./tokens.styles.ts";

export const styles = [
  tokens,
  base,
  screen,
  css`
    :host {
      display: block;
      position: relative;
      container-type: inline-size;
      block-size: 100%;
      min-block-size: 420px;
      overflow: hidden;
      background: var(--_bg);
    }
    .app {
      display: grid;
      grid-template-columns: var(--_sidebar-width) minmax(0, 1fr);
      block-size: 100%;
    }
    .app.with-members {
      grid-template-columns: var(--_sidebar-width) minmax(0, 1fr) var(--_members-width);
    }
    .main {
      display: flex;
      flex-direction: column;
      min-inline-size: 0;
      min-block-size: 0;
      background: var(--_bg);
    }
    chat-login {
      block-size: 100%;
    }
    .scrim {
      display: none;
    }

    /* ---- narrower containers: the member list becomes a panel over the timeline ---- */
    @container (max-width: 1020px) {
      .app.with-members {
        grid-template-columns: var(--_sidebar-width) minmax(0, 1fr);
      }
      chat-member-list {
        position: absolute;
        inset-block: 0;
        inset-inline-end: 0;
        inline-size: min(280px, 85%);
        z-index: 20;
        box-shadow: -12px 0 32px rgb(0 0 0 / 0.15);
        display: none;
      }
      .app.members-open chat-member-list {
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
    }

    /* ---- phones: the sidebar slides over the conversation ---- */
    @container (max-width: 680px) {
      .app,
      .app.with-members {
        grid-template-columns: minmax(0, 1fr);
      }
      chat-sidebar {
        position: absolute;
        inset-block: 0;
        inset-inline-start: 0;
        inline-size: min(300px, 85%);
        z-index: 20;
        box-shadow: 12px 0 32px rgb(0 0 0 / 0.18);
        display: none;
      }
      .app.sidebar-open chat-sidebar {
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
    }
  `,
];
