// Styles of <chat-composer>: the typing line, the rounded message field with its Send button.
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
    .typing {
      min-block-size: 22px;
      padding: 0 22px;
      font-size: 12.5px;
      font-style: italic;
      color: var(--_muted);
    }
    .reply-bar {
      display: flex;
      align-items: center;
      gap: 8px;
      margin: 0 16px 6px;
      padding: 4px 4px 4px 12px;
      border-inline-start: 3px solid var(--_accent);
      border-radius: var(--_radius);
      background: var(--_raised);
      font-size: 13px;
    }
    .reply-label {
      flex: 1;
      min-inline-size: 0;
      overflow: hidden;
      text-overflow: ellipsis;
      white-space: nowrap;
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
    @container (max-width: 680px) {
      .composer {
        margin: 0 10px 10px;
      }
    }
    .uploads {
      display: flex;
      flex-direction: column;
      gap: 4px;
      margin: 0 16px 6px;
      padding: 0;
      list-style: none;
      font-size: 13px;
    }
    .upload {
      display: flex;
      align-items: center;
      gap: 8px;
      padding: 4px 4px 4px 12px;
      border-radius: var(--_radius);
      background: var(--_raised);
    }
    .upload-name {
      font-weight: 600;
      overflow-wrap: anywhere;
    }
    .upload-size {
      color: var(--_muted);
      white-space: nowrap;
    }
    .upload progress {
      flex: 1;
      min-inline-size: 60px;
    }
    .upload .error {
      flex: 1;
      margin: 0;
    }
    .composer.dragging {
      outline: 2px dashed var(--_accent);
      outline-offset: 2px;
    }
  `,
];
