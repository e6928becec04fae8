// Registers <chat-member-list> on its own (<chat-app> registers it through its static dependencies).
import { ChatMemberList } from "./chat-member-list.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-member-list": ChatMemberList;
  }
}

ChatMemberList.define("chat-member-list");
