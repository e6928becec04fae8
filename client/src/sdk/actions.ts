// Message actions on the client, as pure data: a conversation's messages with their current state (edited text,
// tombstones, reply quotes, reactions), built from the server's events in seq order. An action event (edit,
// delete, reaction) is applied to its target only when newer than the target's state_seq, so applying the same
// event twice, or after a history page that already reflects it, changes nothing (docs/protocol.md 3.12).
import { ActionKind } from "../../../proto/gen/es/chat/v1/action_pb.js";
import type { DirectMessage } from "../../../proto/gen/es/chat/v1/direct_pb.js";
import type { ChatMessage } from "../../../proto/gen/es/chat/v1/message_pb.js";

/** One emoji on a message and who reacted with it, earliest first (the count is `users.length`). */
export interface ReactionView {
  readonly emoji: string;
  readonly users: ReadonlyArray<string>;
}

/** A plain message as it should be shown now. Untrusted strings: render as text. */
export interface MessageView {
  readonly seq: bigint;
  readonly sender: string;
  readonly sentAtMs: bigint;
  /** The current text: the latest edit's; "" for a tombstone. */
  readonly text: string;
  readonly clientMessageId: string;
  /** 0n when not a reply. */
  readonly replyToSeq: bigint;
  /** The replied-to message as last known (undefined when not a reply). */
  readonly replyQuote: { readonly sender: string; readonly text: string; readonly deleted: boolean } | undefined;
  /** 0n until edited; then the time of the latest edit ("edited" mark). */
  readonly editedAtMs: bigint;
  /** A tombstone: show "message deleted". */
  readonly deleted: boolean;
  readonly reactions: ReadonlyArray<ReactionView>;
  /** The seq of the newest action reflected here. */
  readonly stateSeq: bigint;
}

/** A room message or a direct message: both carry the same event fields. */
export type ConversationEvent = ChatMessage | DirectMessage;

/** The emoji a reaction picker offers first; any single emoji is accepted. */
export const QUICK_REACTIONS: ReadonlyArray<string> = ["👍", "❤️", "😂", "🎉", "😮", "😢"];

const graphemes = new Intl.Segmenter("en", { granularity: "grapheme" });
const EMOJI = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}{2}|[0-9#*]\uFE0F?\u20E3)/u;

/** Whether `value` is one emoji as the server accepts it: a single grapheme cluster that is an emoji. */
export const isSingleEmoji = (value: string): boolean => [...graphemes.segment(value)].length === 1 && EMOJI.test(value);

/** The view of a plain message; undefined for an action event. */
export const viewOf = (m: ConversationEvent): MessageView | undefined =>
  m.action !== undefined && m.action.kind !== ActionKind.UNSPECIFIED
    ? undefined
    : {
        seq: m.seq,
        sender: m.sender,
        sentAtMs: m.sentAtMs,
        text: m.deleted ? "" : m.text,
        clientMessageId: m.clientMessageId,
        replyToSeq: m.replyToSeq,
        replyQuote:
          m.replyToSeq > 0n && m.replyQuote
            ? { sender: m.replyQuote.sender, text: m.replyQuote.text, deleted: m.replyQuote.deleted }
            : undefined,
        editedAtMs: m.editedAtMs,
        deleted: m.deleted,
        reactions: m.deleted ? [] : m.reactions.map((r) => ({ emoji: r.emoji, users: [...r.users] })),
        stateSeq: m.stateSeq,
      };

const QUOTE_CHARS = 200;
const quoteOf = (v: MessageView) => ({ sender: v.sender, text: Array.from(v.text).slice(0, QUOTE_CHARS).join(""), deleted: v.deleted });

/** The target after one action event (the caller checked event.seq > target.stateSeq). */
const applied = (target: MessageView, event: ConversationEvent): MessageView => {
  const action = event.action!;
  const base = { ...target, stateSeq: event.seq };
  switch (action.kind) {
    case ActionKind.EDIT:
      return target.deleted ? base : { ...base, text: event.text, editedAtMs: event.sentAtMs };
    case ActionKind.DELETE:
      return { ...base, deleted: true, text: "", reactions: [] };
    case ActionKind.REACTION_ADD: {
      if (target.deleted) return base;
      const found = target.reactions.find((r) => r.emoji === action.emoji);
      if (found?.users.includes(event.sender)) return base;
      const reactions = found
        ? target.reactions.map((r) => (r === found ? { emoji: r.emoji, users: [...r.users, event.sender] } : r))
        : [...target.reactions, { emoji: action.emoji, users: [event.sender] }];
      return { ...base, reactions };
    }
    case ActionKind.REACTION_REMOVE: {
      const reactions = target.reactions
        .map((r) => (r.emoji === action.emoji ? { emoji: r.emoji, users: r.users.filter((u) => u !== event.sender) } : r))
        .filter((r) => r.users.length > 0);
      return { ...base, reactions };
    }
    default:
      // A kind added by a newer contract: nothing this client can show, but the event is accounted for.
      return base;
  }
};

/**
 * One action event applied to the message it targets: the new view, or undefined when the event is not an
 * action on `target` or is not newer than the target's state (already reflected). For UIs keeping their own
 * message objects; applyEvent() does the same over a list.
 */
export const applyAction = (target: MessageView, event: ConversationEvent): MessageView | undefined =>
  event.action === undefined ||
  event.action.kind === ActionKind.UNSPECIFIED ||
  event.action.targetSeq !== target.seq ||
  event.seq <= target.stateSeq
    ? undefined
    : applied(target, event);

/** Index of `seq` in an ascending list, or where it would go (as a negative -(insertion point) - 1). */
const find = (views: ReadonlyArray<MessageView>, seq: bigint): number => {
  let lo = 0;
  let hi = views.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = views[mid]!.seq;
    if (s === seq) return mid;
    if (s < seq) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
};

/**
 * One event applied to a conversation's messages (ascending by seq; returned anew, the input untouched): a plain
 * message is added, or replaces the copy held when its state is newer (a history page read after events this
 * client missed); an action event updates its target if
 * the client holds it and the event is newer than the target's state. Replies quoting an edited or deleted
 * message get the new quote. A target the client does not hold is ignored: loading it later brings its state.
 */
export const applyEvent = (views: ReadonlyArray<MessageView>, event: ConversationEvent): ReadonlyArray<MessageView> => {
  const view = viewOf(event);
  if (view !== undefined) {
    const at = find(views, view.seq);
    const next = [...views];
    if (at >= 0) {
      if (view.stateSeq <= views[at]!.stateSeq) return views;
      next[at] = view;
    } else next.splice(-at - 1, 0, view);
    return next;
  }
  const at = find(views, event.action!.targetSeq);
  if (at < 0) return views;
  const target = views[at]!;
  if (event.seq <= target.stateSeq) return views;
  const updated = applied(target, event);
  const next = [...views];
  next[at] = updated;
  if (updated.text !== target.text || updated.deleted !== target.deleted) {
    const quote = quoteOf(updated);
    for (let i = at + 1; i < next.length; i++) {
      if (next[i]!.replyToSeq === target.seq) next[i] = { ...next[i]!, replyQuote: quote };
    }
  }
  return next;
};

/** Events in seq order (a push, a recovery, a history page) applied one by one. */
export const applyEvents = (views: ReadonlyArray<MessageView>, events: Iterable<ConversationEvent>): ReadonlyArray<MessageView> => {
  let next = views;
  for (const e of [...events].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0))) next = applyEvent(next, e);
  return next;
};

/** Whether `username` reacted to the message with `emoji` (for a toggle: send `add: !reactedBy(...)`). */
export const reactedBy = (view: MessageView, emoji: string, username: string): boolean =>
  view.reactions.some((r) => r.emoji === emoji && r.users.includes(username));

/** Whether `username` may edit or delete the message: their own, not deleted. */
export const canModify = (view: MessageView, username: string): boolean => !view.deleted && view.sender === username;
