// The client's message state from action events, without sockets: edits, tombstones, reactions and reply
// quotes applied in seq order; the same events twice, or after a page that already reflects them, change nothing.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ActionKind } from "../../../proto/gen/es/chat/v1/action_pb.js";
import { ChatMessageSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { applyEvent, applyEvents, canModify, isSingleEmoji, type MessageView, reactedBy } from "./actions.ts";

const msg = (seq: number, sender: string, text: string, extra: MessageInitShape<typeof ChatMessageSchema> = {}) =>
  create(ChatMessageSchema, {
    roomCode: "K7QX2M",
    seq: BigInt(seq),
    sender,
    text,
    sentAtMs: BigInt(seq * 1000),
    clientMessageId: `c${seq}`,
    ...extra,
  });
const act = (seq: number, sender: string, kind: ActionKind, target: number, extra: { text?: string; emoji?: string } = {}) =>
  msg(seq, sender, extra.text ?? "", { action: { kind, targetSeq: BigInt(target), emoji: extra.emoji ?? "" } });

const byseq = (views: ReadonlyArray<MessageView>, seq: number) => views.find((v) => v.seq === BigInt(seq))!;

describe("message actions on the client", () => {
  const events = [
    msg(1, "alice", "helo"),
    msg(2, "bob", "hi", { replyToSeq: 1n, replyQuote: { sender: "alice", text: "helo", deleted: false } }),
    act(3, "alice", ActionKind.EDIT, 1, { text: "hello" }),
    act(4, "bob", ActionKind.REACTION_ADD, 1, { emoji: "👍" }),
    act(5, "carol", ActionKind.REACTION_ADD, 1, { emoji: "🎉" }),
    act(6, "alice", ActionKind.REACTION_ADD, 1, { emoji: "👍" }),
    act(7, "carol", ActionKind.REACTION_REMOVE, 1, { emoji: "🎉" }),
  ];

  it("shows only plain messages, with the edited text and mark, the reactions with who, and the reply's new quote", () => {
    const views = applyEvents([], events);
    expect(views.map((v) => Number(v.seq))).toEqual([1, 2]);
    const first = byseq(views, 1);
    expect([first.text, first.editedAtMs, first.stateSeq]).toEqual(["hello", 3000n, 7n]);
    expect(first.reactions).toEqual([{ emoji: "👍", users: ["bob", "alice"] }]);
    expect(reactedBy(first, "👍", "alice")).toBe(true);
    expect(reactedBy(first, "🎉", "carol")).toBe(false);
    expect(byseq(views, 2).replyQuote).toEqual({ sender: "alice", text: "hello", deleted: false });
    expect([canModify(first, "alice"), canModify(first, "bob")]).toEqual([true, false]);
  });

  it("a delete leaves a tombstone: no text, no reactions, later edits and reactions ignored; the quote says deleted", () => {
    const views = applyEvents(
      [],
      [
        ...events,
        act(8, "alice", ActionKind.DELETE, 1),
        act(9, "alice", ActionKind.EDIT, 1, { text: "back" }),
        act(10, "bob", ActionKind.REACTION_ADD, 1, { emoji: "😂" }),
      ],
    );
    const first = byseq(views, 1);
    expect([first.deleted, first.text, first.reactions]).toEqual([true, "", []]);
    expect(byseq(views, 2).replyQuote).toEqual({ sender: "alice", text: "", deleted: true });
    expect(canModify(first, "alice")).toBe(false);
  });

  it("is idempotent: events applied twice, or after a page that already includes them, change nothing", () => {
    const once = applyEvents([], events);
    expect(applyEvents(once, events)).toBe(once);
    // A history page read after seq 7: message 1 with its state as of 7, then the events 3..7 of the page.
    const page = [
      msg(1, "alice", "hello", { editedAtMs: 3000n, stateSeq: 7n, reactions: [{ emoji: "👍", users: ["bob", "alice"] }] }),
      ...events.slice(2),
    ];
    const fromPage = applyEvents([], page);
    expect(byseq(fromPage, 1)).toEqual(byseq(once, 1));
    // An older live event arriving after a newer page does not undo it (the reaction removal at 7 stays).
    expect(applyEvent(fromPage, events[4]!)).toBe(fromPage);
  });

  it("applies in seq order whatever the arrival order; a page with newer state replaces an older copy", () => {
    const shuffled = [events[6]!, events[0]!, events[3]!, events[2]!, events[1]!, events[5]!, events[4]!];
    expect(applyEvents([], shuffled)).toEqual(applyEvents([], events));
    const stale = applyEvents([], [msg(1, "alice", "helo")]);
    const fresh = applyEvent(stale, msg(1, "alice", "hello", { editedAtMs: 3000n, stateSeq: 3n }));
    expect(byseq(fresh, 1).text).toBe("hello");
  });

  it("ignores actions on messages it does not hold (loading them later brings their state)", () => {
    const views = applyEvents([], [msg(5, "bob", "later")]);
    expect(applyEvent(views, act(6, "alice", ActionKind.EDIT, 2, { text: "x" }))).toBe(views);
  });

  it("knows a single emoji from anything else", () => {
    for (const e of ["👍", "❤️", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "🏴󠁧󠁢󠁥󠁮󠁧󠁿"]) expect(isSingleEmoji(e), e).toBe(true);
    for (const e of ["", "a", "👍👍", "ab", " 👍", "1", "<b>"]) expect(isSingleEmoji(e), e).toBe(false);
  });
});
