// The chat SDK's public surface: the client, its errors and the generated message types it hands out.
export { ChatClient } from "./client.ts";
export type {
  ChatClientOptions,
  ChatEvents,
  ConnectionState,
  HistoryOptions,
  Conversation,
  PendingAction,
  PendingDirect,
  PendingSend,
  SendOptions,
  SessionInfo,
  WebSocketConstructor,
  WebSocketLike,
} from "./client.ts";
export { applyAction, applyEvent, applyEvents, canModify, isSingleEmoji, QUICK_REACTIONS, reactedBy, viewOf } from "./actions.ts";
export type { ConversationEvent, MessageView, ReactionView } from "./actions.ts";
export { SESSION_DEFAULTS } from "./connection.ts";
export { MAX_TEXT_BYTES } from "./direct.ts";
export { ChatError, describeClose, describeError } from "./errors.ts";
export { describeFileError, downloadFile, FileError, formatBytes, httpBase, uploadFile } from "./files.ts";
export type { AbortSignalLike, BlobLike, DownloadedBlob, FileErrorCode, UploadedFile, UploadOptions } from "./files.ts";
export type { Attachment } from "../../../proto/gen/es/chat/v1/attachment_pb.js";
export type { ChatErrorInit } from "./errors.ts";
export { backoffDelay, closePolicy, VISIBLE_MAX_MS } from "./backoff.ts";
export type { BackoffOptions, ClosePolicy } from "./backoff.ts";
export type { AuthOk } from "../../../proto/gen/es/chat/v1/auth_pb.js";
export type { Room, RoomJoined, RoomSummary } from "../../../proto/gen/es/chat/v1/room_pb.js";
export type { ChatMessage, HistoryPage, SendAck } from "../../../proto/gen/es/chat/v1/message_pb.js";
export type { PresenceEvent, TypingEvent, UserPresenceEvent } from "../../../proto/gen/es/chat/v1/presence_pb.js";
export type { DirectAck, DirectHistoryPage, DirectMessage } from "../../../proto/gen/es/chat/v1/direct_pb.js";
export { CloseCode, ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
export { ActionKind } from "../../../proto/gen/es/chat/v1/action_pb.js";
export type { MessageAction, MessageQuote, Reaction } from "../../../proto/gen/es/chat/v1/action_pb.js";
export { PresenceChange } from "../../../proto/gen/es/chat/v1/presence_pb.js";
