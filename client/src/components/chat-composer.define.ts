// Registers <chat-composer> on its own (<chat-app> registers it through its static dependencies).
import { ChatComposer } from "./chat-composer.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-composer": ChatComposer;
  }
}

ChatComposer.define("chat-composer");
