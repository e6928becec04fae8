// Registers <chat-toasts> on its own (<chat-app> registers it through its static dependencies).
import { ChatToasts } from "./chat-toasts.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-toasts": ChatToasts;
  }
}

ChatToasts.define("chat-toasts");
