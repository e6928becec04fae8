// Field checks shared by the request handlers. protobuf-es accepts any string (invalid UTF-8 becomes
// U+FFFD), so lengths, emptiness and control characters are checked here and fail with InvalidArgument.
import { Effect } from "effect";
import { InvalidArgument } from "../errors.ts";
import type { Direction, PageQuery } from "../store/store.ts";
import { HistoryDirection } from "../../../proto/gen/es/chat/v1/message_pb.js";

export const MAX_TEXT_BYTES = 4096;
export const MAX_CLIENT_MESSAGE_ID_BYTES = 64;
export const MAX_ROOM_NAME = 64;
export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 200;

const utf8Bytes = (s: string) => Buffer.byteLength(s, "utf8");
// Control characters other than tab and newline, and lone surrogate replacements are rejected in names.
const NAME_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export const messageText = (text: string): Effect.Effect<string, InvalidArgument> => {
  if (text.trim().length === 0) return Effect.fail(new InvalidArgument({ message: "text must not be empty" }));
  if (utf8Bytes(text) > MAX_TEXT_BYTES) return Effect.fail(new InvalidArgument({ message: `text is longer than ${MAX_TEXT_BYTES} bytes` }));
  // PostgreSQL text cannot hold U+0000: refused on every store alike, with a clear error instead of a failed write.
  if (text.includes("\u0000")) return Effect.fail(new InvalidArgument({ message: "text must not contain NUL characters" }));
  return Effect.succeed(text);
};

export const clientMessageId = (id: string): Effect.Effect<string, InvalidArgument> => {
  const n = utf8Bytes(id);
  if (n === 0 || n > MAX_CLIENT_MESSAGE_ID_BYTES) {
    return Effect.fail(new InvalidArgument({ message: `client_message_id must be 1-${MAX_CLIENT_MESSAGE_ID_BYTES} bytes` }));
  }
  if (id.includes("\u0000")) return Effect.fail(new InvalidArgument({ message: "client_message_id must not contain NUL characters" }));
  return Effect.succeed(id);
};

export const roomName = (name: string, persistent: boolean): Effect.Effect<string, InvalidArgument> => {
  const trimmed = name.normalize("NFC").trim();
  if (persistent && trimmed.length === 0) return Effect.fail(new InvalidArgument({ message: "a persistent room needs a name" }));
  if ([...trimmed].length > MAX_ROOM_NAME) return Effect.fail(new InvalidArgument({ message: `room name is longer than ${MAX_ROOM_NAME} characters` }));
  if (NAME_FORBIDDEN.test(trimmed)) return Effect.fail(new InvalidArgument({ message: "room name contains control characters" }));
  return Effect.succeed(trimmed);
};

export const pageQuery = (anchorSeq: bigint, direction: HistoryDirection, limit: number): Effect.Effect<PageQuery, InvalidArgument> => {
  if (limit > MAX_PAGE) return Effect.fail(new InvalidArgument({ message: `limit must be at most ${MAX_PAGE}` }));
  const dir: Direction = direction === HistoryDirection.FORWARD ? "forward" : "backward";
  return Effect.succeed({ anchorSeq, direction: dir, limit: limit === 0 ? DEFAULT_PAGE : limit });
};
