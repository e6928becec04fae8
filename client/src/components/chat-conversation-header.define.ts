// Registers <chat-conversation-header> on its own (<chat-app> registers it through its static dependencies).
import { ChatConversationHeader } from "./chat-conversation-header.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-conversation-header": ChatConversationHeader;
  }
}

ChatConversationHeader.define("chat-conversation-header");
