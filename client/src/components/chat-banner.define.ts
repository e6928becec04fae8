// Registers <chat-banner> on its own (<chat-app> registers it through its static dependencies).
import { ChatBanner } from "./chat-banner.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-banner": ChatBanner;
  }
}

ChatBanner.define("chat-banner");
