// Registers <chat-conversation-start> on its own (<chat-app> registers it through its static dependencies).
import { ChatConversationStart } from "./chat-conversation-start.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-conversation-start": ChatConversationStart;
  }
}

ChatConversationStart.define("chat-conversation-start");
