// Registers <chat-login> on its own (<chat-app> registers it through its static dependencies).
import { ChatLogin } from "./chat-login.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-login": ChatLogin;
  }
}

ChatLogin.define("chat-login");
