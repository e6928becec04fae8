// Registers <chat-lobby> on its own (<chat-app> registers it through its static dependencies).
import { ChatLobby } from "./chat-lobby.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-lobby": ChatLobby;
  }
}

ChatLobby.define("chat-lobby");
