// Registers <chat-attachment> on its own (<chat-timeline> registers it through its static dependencies).
import { ChatAttachment } from "./chat-attachment.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-attachment": ChatAttachment;
  }
}

ChatAttachment.define("chat-attachment");
