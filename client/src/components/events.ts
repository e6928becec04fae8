// The events of <chat-app> and its elements, typed once: the name, the detail, and the global
// HTMLElementEventMap entries, so `el.addEventListener("chat-login", (e) => e.detail.username)` type-checks.
// Public events of <chat-app> bubble and are composed (they leave its shadow root); the events its inner
// elements send up to it bubble but are not composed, so they stay inside <chat-app>'s shadow root.
import type { ConnectionState, UploadedFile } from "../sdk/index.ts";
import type { Active } from "./chat-state.ts";

/** `chat-login`: a sign-in, registration or resumed session finished; the user is signed in. */
export interface ChatLoginDetail {
  readonly username: string;
}
/** `chat-logout`: the signed-in session ended (logged out here or elsewhere, or the server changed). */
export type ChatLogoutDetail = Record<string, never>;
/** `chat-connection-change`: the connection to the server changed state. */
export interface ChatConnectionChangeDetail {
  readonly state: ConnectionState;
}
/** `chat-message-send`: a message was handed to the server (from the composer, or Retry); not yet stored. */
export type ChatMessageSendDetail =
  | { readonly room: string; readonly clientMessageId: string }
  | { readonly peer: string; readonly clientMessageId: string };

/** Every event name with its detail. The first four are <chat-app>'s public API; the rest are internal. */
export interface ChatEventDetails {
  "chat-login": ChatLoginDetail;
  "chat-logout": ChatLogoutDetail;
  "chat-connection-change": ChatConnectionChangeDetail;
  "chat-message-send": ChatMessageSendDetail;
  // <chat-login>
  "chat-login-submit": { readonly mode: "login" | "register"; readonly username: string; readonly password: string };
  "chat-login-mode-change": { readonly mode: "login" | "register" };
  // <chat-login>, <chat-banner>: start over against the server (after a failed resume or a final close)
  "chat-reconnect-request": Record<string, never>;
  // <chat-banner>: skip the wait before the next automatic reconnect attempt
  "chat-retry-now": Record<string, never>;
  // <chat-sidebar>
  "chat-navigate": { readonly to: Active };
  "chat-logout-request": Record<string, never>;
  "chat-notifications-toggle": { readonly on: boolean };
  // <chat-conversation-header>, <chat-conversation-start>
  "chat-sidebar-toggle": Record<string, never>;
  "chat-members-toggle": Record<string, never>;
  "chat-code-copy": { readonly code: string };
  "chat-room-leave-request": { readonly code: string };
  "chat-invite-copy": { readonly code: string };
  // <chat-lobby>
  "chat-room-create-request": { readonly name: string; readonly persistent: boolean };
  "chat-room-join-request": { readonly code: string };
  "chat-public-rooms-refresh": Record<string, never>;
  // <chat-timeline>
  "chat-load-older": Record<string, never>;
  "chat-message-retry": { readonly clientMessageId: string; readonly text: string };
  "chat-message-reply": { readonly seq: bigint; readonly sender: string; readonly text: string };
  "chat-message-edit": { readonly seq: bigint; readonly text: string };
  "chat-message-delete": { readonly seq: bigint };
  "chat-message-react": { readonly seq: bigint; readonly emoji: string; readonly add: boolean };
  // <chat-composer>: the "Replying to …" bar's cancel
  "chat-reply-cancel": Record<string, never>;
  // <chat-composer>: submit is cancelable; a cancelled submit keeps the text in the field
  "chat-composer-submit": { readonly text: string; readonly attachments: ReadonlyArray<UploadedFile> };
  "chat-composer-input": { readonly text: string };
  "chat-composer-blur": Record<string, never>;
  // <chat-member-list>
  "chat-members-close": Record<string, never>;
  // <chat-banner>, <chat-toasts>
  "chat-banner-dismiss": Record<string, never>;
  "chat-toast-dismiss": { readonly id: number };
}

export type ChatEventName = keyof ChatEventDetails;
export type ChatEvent<K extends ChatEventName> = CustomEvent<ChatEventDetails[K]>;

/** The public events: bubbling and composed, so a page hears them on <chat-app> or any ancestor. */
export const PUBLIC_EVENTS = new Set<ChatEventName>(["chat-login", "chat-logout", "chat-connection-change", "chat-message-send"]);

/** Makes a typed event: public ones compose out of the shadow root, internal ones stay inside it. */
export const chatEvent = <K extends ChatEventName>(
  name: K,
  detail: ChatEventDetails[K],
  init: { cancelable?: boolean } = {},
): ChatEvent<K> =>
  new CustomEvent(name, { detail, bubbles: true, composed: PUBLIC_EVENTS.has(name), cancelable: init.cancelable ?? false });

/** Each event name to its event type, for the global map below. */
export type ChatEventMap = { [K in ChatEventName]: ChatEvent<K> };

declare global {
  interface HTMLElementEventMap extends ChatEventMap {}
}
