// Registers <chat-sidebar> on its own (<chat-app> registers it through its static dependencies).
import { ChatSidebar } from "./chat-sidebar.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-sidebar": ChatSidebar;
  }
}

ChatSidebar.define("chat-sidebar");
