// Entry of the browser bundle served at /chat.js: registers <chat-app> (and the elements it renders) and
// exposes the element classes, the event types and the SDK.
import "./components/define.ts";

export { ChatApp, defaultServerUrl } from "./components/chat-app.ts";
export { ChatBanner } from "./components/chat-banner.ts";
export { ChatComposer } from "./components/chat-composer.ts";
export { ChatConversationHeader } from "./components/chat-conversation-header.ts";
export { ChatConversationStart } from "./components/chat-conversation-start.ts";
export { ChatElement } from "./components/chat-element.ts";
export { ChatLobby } from "./components/chat-lobby.ts";
export { ChatLogin } from "./components/chat-login.ts";
export { ChatMemberList } from "./components/chat-member-list.ts";
export { ChatSidebar } from "./components/chat-sidebar.ts";
export { ChatTimeline } from "./components/chat-timeline.ts";
export { ChatToasts } from "./components/chat-toasts.ts";
export type {
  ChatConnectionChangeDetail,
  ChatEvent,
  ChatEventDetails,
  ChatEventName,
  ChatLoginDetail,
  ChatLogoutDetail,
  ChatMessageSendDetail,
} from "./components/events.ts";
export { ChatClient, ChatError, describeClose, describeError } from "./sdk/index.ts";
