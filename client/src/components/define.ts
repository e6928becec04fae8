// Registers <chat-app> (and, through its static dependencies, the elements it renders). Kept apart from the
// class so a page can import ChatApp and register it under its own name.
import { ChatApp } from "./chat-app.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-app": ChatApp;
  }
}

if (!customElements.get("chat-app")) customElements.define("chat-app", ChatApp);
