// Entry of the browser bundle served at /chat.js: registers <chat-app> and exposes the element class and the SDK.
import "./components/define.ts";

export { ChatApp, defaultServerUrl } from "./components/chat-app.ts";
export { ChatClient, ChatError, describeClose, describeError } from "./sdk/index.ts";
