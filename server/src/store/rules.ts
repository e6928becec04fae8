// The Store's pure rules, shared by every layer and free of Effect so the SQLite worker thread loads quickly:
// username keys, event state, action codes, the action checks, quotes and reaction grouping.
import type { ActionKind, EventState, NewAction, ReactionSummary } from "./store.ts";

/**
 * The case-insensitive key of a username: NFC, then lower case. Unique per account; a direct-message
 * conversation is the unordered pair of its members' keys.
 */
export const usernameKey = (username: string): string => username.normalize("NFC").toLowerCase();

/** A plain message's state before any action. */
export const freshState = (replyToSeq: bigint): EventState => ({
  replyToSeq,
  replyQuote: undefined,
  action: undefined,
  editedAtMs: 0,
  deleted: false,
  reactions: [],
  stateSeq: 0n,
});

/** The most different emoji one message can carry; one more is refused with LimitExceeded. */
export const MAX_EMOJI_PER_MESSAGE = 20;
/** A quote carries at most this many code points of the quoted text. */
export const QUOTE_CHARS = 200;

/** Action kinds as stored (the wire's ActionKind numbers; 0 is a plain message). */
export const ACTION_CODES: ReadonlyArray<ActionKind | undefined> = [undefined, "edit", "delete", "reaction-add", "reaction-remove"];
export const actionCode = (kind: ActionKind | undefined): number => (kind === undefined ? 0 : ACTION_CODES.indexOf(kind));

/** The target of an action as the store read it, inside the action's transaction. */
export interface ActionTarget {
  readonly kind: number;
  readonly senderKey: string;
  readonly deleted: boolean;
}

/** Why an action was refused, as plain data (store.ts's refuseAction turns it into the tagged error). */
export type ActionRefusal =
  | { readonly _tag: "NotFound"; readonly what: "message" }
  | { readonly _tag: "PermissionDenied"; readonly message: string }
  | { readonly _tag: "LimitExceeded"; readonly message: string };

/**
 * Whether an action may be applied to its target, decided inside the transaction that stores it (so a delete
 * racing an edit is seen by whichever commits second). `emoji` facts only matter for a reaction add.
 */
export const actionRefusal = (
  action: NewAction,
  target: ActionTarget | undefined,
  emoji: { readonly present: boolean; readonly distinct: number },
): ActionRefusal | undefined => {
  if (target === undefined || target.kind !== 0 || target.deleted) return { _tag: "NotFound", what: "message" };
  if ((action.kind === "edit" || action.kind === "delete") && target.senderKey !== usernameKey(action.sender)) {
    return { _tag: "PermissionDenied", message: `only the sender can ${action.kind} a message` };
  }
  if (action.kind === "reaction-add" && !emoji.present && emoji.distinct >= MAX_EMOJI_PER_MESSAGE) {
    return { _tag: "LimitExceeded", message: `a message carries at most ${MAX_EMOJI_PER_MESSAGE} different emoji` };
  }
  return undefined;
};

/** Cuts a quoted text to QUOTE_CHARS code points. */
export const quoteText = (text: string): string => {
  const points = Array.from(text);
  return points.length <= QUOTE_CHARS ? text : points.slice(0, QUOTE_CHARS).join("");
};

/** Groups reaction rows (ordered by the seq that added them) per target, emoji in order of first use. */
export const groupReactions = (
  rows: ReadonlyArray<{ readonly targetSeq: bigint; readonly emoji: string; readonly username: string }>,
): Map<bigint, ReadonlyArray<ReactionSummary>> => {
  const byTarget = new Map<bigint, Map<string, string[]>>();
  for (const row of rows) {
    let emojis = byTarget.get(row.targetSeq);
    if (emojis === undefined) byTarget.set(row.targetSeq, (emojis = new Map()));
    let users = emojis.get(row.emoji);
    if (users === undefined) emojis.set(row.emoji, (users = []));
    users.push(row.username);
  }
  return new Map([...byTarget].map(([seq, emojis]) => [seq, [...emojis].map(([emoji, users]) => ({ emoji, users }))]));
};
