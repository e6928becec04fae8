// Field checks the contract cannot state, shared by the request handlers. Lengths and page sizes are
// `buf.validate` rules in proto/chat/v1, checked before any handler runs (session/contract-rules.ts); what is
// left here is what depends on meaning: text that is only white space, NFC and control characters in names.
import { Effect } from "effect";
import { InvalidArgument } from "../errors.ts";
import type { Direction, PageQuery } from "../store/store.ts";
import { HistoryDirection } from "../../../proto/gen/es/chat/v1/message_pb.js";

export const DEFAULT_PAGE = 50;

// Control characters other than tab and newline, and lone surrogate replacements are rejected in names.
const NAME_FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export const messageText = (text: string): Effect.Effect<string, InvalidArgument> => {
  if (text.trim().length === 0) return Effect.fail(new InvalidArgument({ message: "text must not be empty" }));
  // PostgreSQL text cannot hold U+0000: refused on every store alike, with a clear error instead of a failed write.
  if (text.includes("\u0000")) return Effect.fail(new InvalidArgument({ message: "text must not contain NUL characters" }));
  return Effect.succeed(text);
};

/** A message's text: as messageText, except that a message carrying attachments may have none (""). */
export const bodyText = (text: string, attachments: number): Effect.Effect<string, InvalidArgument> =>
  attachments > 0 && text.trim().length === 0
    ? Effect.succeed("")
    : messageText(text).pipe(
        Effect.mapError((e) =>
          attachments === 0 && text.trim().length === 0 ? new InvalidArgument({ message: "a message needs text or attachments" }) : e,
        ),
      );

/** A client message id (its length is a contract rule) that every store can hold: no U+0000, as for text. */
export const clientMessageId = (id: string): Effect.Effect<string, InvalidArgument> =>
  id.includes("\u0000")
    ? Effect.fail(new InvalidArgument({ message: "client_message_id must not contain NUL characters" }))
    : Effect.succeed(id);

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });
// An emoji: a pictograph (with any modifiers, variation selectors or ZWJ sequence around it), a flag (two
// regional indicators) or a keycap; one grapheme cluster. Byte length is a contract rule (max 32 bytes).
const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}{2}|[0-9#*]\uFE0F?\u20E3)/u;

/** A reaction's emoji: exactly one grapheme cluster that is an emoji. */
export const emoji = (value: string): Effect.Effect<string, InvalidArgument> => {
  const clusters = [...graphemes.segment(value)];
  if (clusters.length !== 1 || !EMOJI.test(value)) return Effect.fail(new InvalidArgument({ message: "emoji must be a single emoji" }));
  return Effect.succeed(value);
};

export const roomName = (name: string, persistent: boolean): Effect.Effect<string, InvalidArgument> => {
  const trimmed = name.normalize("NFC").trim();
  if (persistent && trimmed.length === 0) return Effect.fail(new InvalidArgument({ message: "a persistent room needs a name" }));
  if (NAME_FORBIDDEN.test(trimmed)) return Effect.fail(new InvalidArgument({ message: "room name contains control characters" }));
  return Effect.succeed(trimmed);
};

export const pageQuery = (anchorSeq: bigint, direction: HistoryDirection, limit: number): Effect.Effect<PageQuery> => {
  const dir: Direction = direction === HistoryDirection.FORWARD ? "forward" : "backward";
  return Effect.succeed({ anchorSeq, direction: dir, limit: limit === 0 ? DEFAULT_PAGE : limit });
};
