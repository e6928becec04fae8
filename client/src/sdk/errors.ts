// The SDK's error type and the human words for every ErrorCode and CloseCode, for UIs.
// ChatError carries a reply's ErrorCode, or the close code that ended a connection, never both.
import { CloseCode, ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";

export interface ChatErrorInit {
  readonly code?: ErrorCode;
  readonly closeCode?: number;
  readonly retryAfterMs?: number;
  /** The room the error concerns, when there is one (e.g. a subscribed room that no longer exists). */
  readonly roomCode?: string;
  /** The request the server refused (the ClientFrame case: "login", "joinRoom", "sendDirect", …), for the words. */
  readonly request?: string;
  readonly cause?: unknown;
}

/**
 * A failed request (`code` is the server's ErrorCode), a connection that ended (`closeCode`), or a local
 * failure such as a timeout (neither set). `message` is English for logs; use describeError for UIs.
 */
export class ChatError extends Error {
  override readonly name = "ChatError";
  readonly code?: ErrorCode;
  readonly closeCode?: number;
  readonly retryAfterMs?: number;
  readonly roomCode?: string;
  /** The request the server refused, when this is a reply's error ("login", "joinRoom", …). */
  readonly request?: string;

  constructor(message: string, init: ChatErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    if (init.code !== undefined) this.code = init.code;
    if (init.closeCode !== undefined) this.closeCode = init.closeCode;
    if (init.retryAfterMs !== undefined && init.retryAfterMs > 0) this.retryAfterMs = init.retryAfterMs;
    if (init.roomCode !== undefined) this.roomCode = init.roomCode;
    if (init.request !== undefined) this.request = init.request;
  }
}

const errorWords: Record<number, string> = {
  [ErrorCode.UNSPECIFIED]: "The server failed. Please try again.",
  [ErrorCode.INVALID_ARGUMENT]: "That input is not valid.",
  [ErrorCode.MALFORMED_FRAME]: "The app sent something the server could not read.",
  [ErrorCode.UNKNOWN_FRAME]: "The server does not support this action.",
  [ErrorCode.UNAUTHENTICATED]: "Wrong username or password, or your session has ended. Please log in again.",
  [ErrorCode.ALREADY_AUTHENTICATED]: "You are already logged in.",
  [ErrorCode.USERNAME_TAKEN]: "That username is taken. Choose another one.",
  [ErrorCode.NOT_FOUND]: "Not found. Check the room code or the username.",
  [ErrorCode.NOT_MEMBER]: "You are not in that room. Join it first.",
  [ErrorCode.RATE_LIMITED]: "Too many attempts. Please wait a moment and try again.",
  [ErrorCode.LIMIT_EXCEEDED]: "You have reached a limit (for example, too many rooms). Leave one first.",
  [ErrorCode.INTERNAL]: "The server failed. Please try again.",
  [ErrorCode.UNAVAILABLE]: "The server cannot save right now. It will try again shortly.",
};

const closeWords: Record<number, string> = {
  [CloseCode.NORMAL]: "Disconnected.",
  [CloseCode.GOING_AWAY]: "The server is restarting. Reconnecting…",
  [CloseCode.UNSUPPORTED_DATA]: "The app sent data the server does not accept (a bug). Disconnected.",
  [CloseCode.MESSAGE_TOO_BIG]: "The app sent a message that was too large (a bug). Disconnected.",
  [CloseCode.INTERNAL_ERROR]: "The server had a problem. Reconnecting…",
  [CloseCode.HEARTBEAT_TIMEOUT]: "The connection went quiet. Reconnecting…",
  [CloseCode.SLOW_CONSUMER]: "The connection could not keep up. Reconnecting…",
  [CloseCode.SERVER_BUSY]: "The server is busy. Retrying shortly…",
  [CloseCode.AUTH_TIMEOUT]: "Logging in took too long. Please try again.",
  [CloseCode.NOT_AUTHENTICATED]: "The app talked to the server before logging in (a bug). Disconnected.",
  [CloseCode.PROTOCOL_VIOLATION]: "The app broke the chat protocol (a bug). Disconnected.",
  [CloseCode.RATE_LIMITED]: "Too much was sent too fast. Disconnected.",
  [CloseCode.SESSION_REVOKED]: "You were logged out. Please log in again.",
  1006: "The connection was lost. Reconnecting…",
};

/** Human words for a WebSocket close code (the chat CloseCodes, 1006, and a generic text for others). */
export function describeClose(code: number): string {
  const words = closeWords[code];
  if (words !== undefined) return words;
  if (code >= 4100 && code <= 4199) return `Disconnected by the server (code ${code}).`;
  return `The connection closed (code ${code}).`;
}

const ROOM_REQUESTS = new Set(["joinRoom", "leaveRoom", "history", "recover", "sendMessage", "typing"]);
const USER_REQUESTS = new Set(["sendDirect", "directHistory"]);

/** Words that say only what applies to the request that was refused; undefined = the generic words. */
const wordsFor = (code: ErrorCode, request: string | undefined): string | undefined => {
  if (request === undefined) return undefined;
  if (code === ErrorCode.UNAUTHENTICATED) {
    if (request === "login") return "Wrong username or password.";
    return "Your session has ended. Please log in again.";
  }
  if (code === ErrorCode.NOT_FOUND) {
    if (request === "joinRoom") return "No room has that code. Check the code and try again.";
    if (ROOM_REQUESTS.has(request)) return "That room no longer exists.";
    if (USER_REQUESTS.has(request)) return "No user has that name. Check the username.";
  }
  return undefined;
};

/**
 * Human words for anything thrown or rejected by the SDK, for showing in a UI. Never the raw server text.
 * A refused request's words depend on what was asked (`ChatError.request`, or `request` here when the error
 * came from elsewhere): a wrong password is not an ended session, a missing room is not a missing user.
 */
export function describeError(e: unknown, request?: string): string {
  if (e instanceof ChatError) {
    if (e.code !== undefined) {
      const words = wordsFor(e.code, e.request ?? request) ?? errorWords[e.code] ?? errorWords[ErrorCode.INTERNAL]!;
      if (e.code === ErrorCode.RATE_LIMITED && e.retryAfterMs !== undefined) {
        return `Too many attempts. Please wait ${Math.max(1, Math.ceil(e.retryAfterMs / 1000))} s and try again.`;
      }
      return words;
    }
    if (e.closeCode !== undefined) return describeClose(e.closeCode);
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}
