// Registers <chat-timeline> on its own (<chat-app> registers it through its static dependencies).
import { ChatTimeline } from "./chat-timeline.ts";

declare global {
  interface HTMLElementTagNameMap {
    "chat-timeline": ChatTimeline;
  }
}

ChatTimeline.define("chat-timeline");
