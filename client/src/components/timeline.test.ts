// The timeline model: seq order, dedup by seq, pending sends matched to their push and ack, notices in place.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ActionKind } from "../../../proto/gen/es/chat/v1/action_pb.js";
import { ChatMessageSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { type Entry, GROUP_WINDOW_MS, layoutEntries, type MessageEntry, Timeline } from "./timeline.ts";

const me = (name: string) => name.toLowerCase() === "alice";
const msg = (
  seq: number,
  sender: string,
  text: string,
  clientMessageId = `id-${seq}`,
  extra: MessageInitShape<typeof ChatMessageSchema> = {},
) => create(ChatMessageSchema, { seq: BigInt(seq), sender, sentAtMs: BigInt(1_764_000_000_000 + seq), text, clientMessageId, ...extra });
const act = (seq: number, sender: string, kind: ActionKind, target: number, extra: { text?: string; emoji?: string } = {}) =>
  msg(seq, sender, extra.text ?? "", `a-${seq}`, { action: { kind, targetSeq: BigInt(target), emoji: extra.emoji ?? "" } });
const view = (entries: ReadonlyArray<Entry>) =>
  entries.map((e) => (e.kind === "notice" ? `[${e.text}]` : `${e.seq ?? "?"}:${e.sender}:${e.text}:${e.status}`));

describe("Timeline", () => {
  it("orders stored messages by seq whatever the arrival order, and drops repeated seqs", () => {
    const t = new Timeline(me);
    expect(t.addStored(msg(3, "bob", "c"))).toBe(true);
    expect(t.addStored(msg(1, "bob", "a"))).toBe(true);
    expect(t.addStored(msg(2, "carol", "b"))).toBe(true);
    expect(t.addStored(msg(2, "carol", "b"))).toBe(false);
    expect(view(t.entries)).toEqual(["1:bob:a:sent", "2:carol:b:sent", "3:bob:c:sent"]);
    expect(t.lastSeq).toBe(3n);
    expect(t.firstSeq).toBe(1n);
  });

  it("keeps an own send pending through its push and marks it sent on the ack", () => {
    const t = new Timeline(me);
    t.addStored(msg(1, "bob", "hi"));
    const pending = t.addPending("m-1", "alice", "hello");
    expect(view(t.entries)).toEqual(["1:bob:hi:sent", "?:alice:hello:pending"]);
    // The push of our own message usually arrives before the ack.
    expect(t.addStored(msg(2, "Alice", "hello", "m-1"))).toBe(false);
    expect(view(t.entries)).toEqual(["1:bob:hi:sent", "2:alice:hello:pending"]);
    t.markSent("m-1", 2n, 1_764_000_000_002n);
    expect(view(t.entries)).toEqual(["1:bob:hi:sent", "2:alice:hello:sent"]);
    expect(pending.own).toBe(true);
    expect(t.messageCount).toBe(2);
  });

  it("takes the ack before the push and then ignores the push", () => {
    const t = new Timeline(me);
    t.addPending("m-1", "alice", "first");
    t.addPending("m-2", "alice", "second");
    t.markSent("m-2", 5n, 1n);
    expect(view(t.entries)).toEqual(["5:alice:second:sent", "?:alice:first:pending"]);
    expect(t.addStored(msg(5, "alice", "second", "m-2"))).toBe(false);
    t.addStored(msg(4, "alice", "first", "m-1"));
    expect(view(t.entries)).toEqual(["4:alice:first:pending", "5:alice:second:sent"]);
  });

  it("marks a failed send without touching sent ones", () => {
    const t = new Timeline(me);
    t.addPending("m-1", "alice", "a");
    t.addPending("m-2", "alice", "b");
    t.markSent("m-1", 1n, 1n);
    t.markFailed("m-1", "nope");
    t.markFailed("m-2", "The message is too long.");
    expect(view(t.entries)).toEqual(["1:alice:a:sent", "?:alice:b:failed"]);
    const failed = t.entries[1];
    expect(failed?.kind === "message" && failed.error).toBe("The message is too long.");
  });

  it("places a notice after the messages held when it was added, even if older ones arrive later", () => {
    const t = new Timeline(me);
    t.addStored(msg(5, "bob", "e"));
    t.addNotice("carol joined");
    t.addStored(msg(6, "carol", "f"));
    t.addStored(msg(4, "bob", "d"));
    expect(view(t.entries)).toEqual(["4:bob:d:sent", "5:bob:e:sent", "[carol joined]", "6:carol:f:sent"]);
  });

  it("clears stored messages for a reload but keeps unsent ones", () => {
    const t = new Timeline(me);
    t.addStored(msg(1, "bob", "a"));
    t.addNotice("bob joined");
    t.addPending("m-9", "alice", "still sending");
    t.loaded = true;
    t.hasMore = false;
    t.clearStored();
    expect(view(t.entries)).toEqual(["?:alice:still sending:pending"]);
    expect(t.lastSeq).toBe(0n);
    expect(t.loaded).toBe(false);
    expect(t.hasMore).toBe(true);
    expect(t.addStored(msg(1, "bob", "a"))).toBe(true);
  });

  it("lays out runs of one sender: a header when the run starts, the avatar at its end, Sent under the newest own message", () => {
    const t = new Timeline(me);
    const at = (seq: number, sender: string, text: string, ms: number) => ({ ...msg(seq, sender, text), sentAtMs: BigInt(ms) });
    t.addStored(at(1, "bob", "a", 0));
    t.addStored(at(2, "Bob", "b", 1000));
    t.addStored(at(3, "bob", "c", 1000 + GROUP_WINDOW_MS));
    t.addStored(at(4, "alice", "d", 2 * GROUP_WINDOW_MS));
    t.addNotice("carol joined");
    t.addStored(at(5, "alice", "e", 2 * GROUP_WINDOW_MS + 1));
    t.addPending("m-9", "alice", "f", 2 * GROUP_WINDOW_MS + 2);
    const rows = t.layout.rows.map(
      (r) =>
        `${r.entry.kind === "notice" ? r.entry.text : r.entry.text}${r.grouped ? " cont" : ""}${r.lastOfGroup ? " end" : ""}${r.lastOwn ? " newest-own" : ""}`,
    );
    expect(rows).toEqual(["a", "b cont", "c end", "d end", "carol joined end", "e", "f cont end newest-own"]);
    expect(t.layout.messageCount).toBe(6);
  });

  it("lays out 5,000 entries in one pass, and only again after a change", () => {
    const t = new Timeline(me);
    for (let seq = 1; seq <= 5000; seq++) {
      if (seq % 500 === 0) t.addNotice(`notice ${seq}`);
      else t.addStored(msg(seq, seq % 3 === 0 ? "alice" : seq % 7 === 0 ? "carol" : "bob", `m${seq}`));
    }
    const entries = t.entries;
    expect(entries.length).toBe(5000);
    // Count every read of an entry: one per entry (a lookup per message, as in [...entries].reverse().find
    // for each own message, or a reduce per use, multiplies this).
    let reads = 0;
    const counted = new Proxy(entries as Entry[], {
      get(target, key, receiver) {
        if (typeof key === "string" && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver) as unknown;
      },
    });
    const layout = layoutEntries(counted);
    expect(reads).toBe(5000);
    expect(layout.rows.filter((r) => r.lastOwn).map((r) => r.entry.kind === "message" && r.entry.seq)).toEqual([4998n]);
    expect(layout.messageCount).toBe(4990);
    // The timeline keeps its layout until it changes: every render between two changes reuses it.
    const first = t.layout;
    expect(t.layout).toBe(first);
    expect(t.messageCount).toBe(4990);
    expect(t.layout).toBe(first);
    t.addPending("m-new", "alice", "new");
    expect(t.layout).not.toBe(first);
    expect(t.layout.rows.at(-1)?.lastOwn).toBe(true);
  });
});

describe("day separators and the New divider", () => {
  const at = (seq: number, sender: string, ms: number) => ({ ...msg(seq, sender, `m${seq}`), sentAtMs: BigInt(ms) });
  const DAY = 24 * 3600 * 1000;
  const noon = new Date(2026, 10, 27, 12, 0).getTime();

  it("marks the first message of each local day, and breaks the sender's run there", () => {
    const t = new Timeline(me);
    t.addStored(at(1, "bob", noon));
    t.addStored(at(2, "bob", noon + 60_000));
    t.addStored(at(3, "bob", noon + DAY));
    const days = t.layout.rows.map((r) => r.day);
    expect(days).toEqual([new Date(2026, 10, 27).getTime(), undefined, new Date(2026, 10, 28).getTime()]);
    expect(t.layout.rows.map((r) => r.grouped)).toEqual([false, true, false]);
  });

  it("puts the divider above the first message at or after newFrom, once, and lays out again when it moves", () => {
    const t = new Timeline(me);
    for (let seq = 1; seq <= 5; seq++) t.addStored(at(seq, "bob", noon + seq));
    const before = t.layout;
    t.newFrom = 3n;
    expect(t.layout).not.toBe(before);
    expect(t.layout.rows.map((r) => r.firstNew)).toEqual([false, false, true, false, false]);
    expect(t.layout.rows[2]!.grouped).toBe(false);
    t.newFrom = undefined;
    expect(t.layout.rows.some((r) => r.firstNew)).toBe(false);
  });

  it("applies edits, reactions and deletions to their target in place; action events are no entries but count for paging", () => {
    const t = new Timeline(me);
    t.addStored(msg(10, "bob", "helo"));
    t.addStored(msg(11, "alice", "hi", "m-11", { replyToSeq: 10n, replyQuote: { sender: "bob", text: "helo" } }));
    const rev = t.revision;
    expect(t.addStored(act(12, "bob", ActionKind.EDIT, 10, { text: "hello" }))).toBe(false);
    expect(t.addStored(act(13, "alice", ActionKind.REACTION_ADD, 10, { emoji: "👍" }))).toBe(false);
    expect(t.revision).toBeGreaterThan(rev);
    const target = t.message(10n)!;
    expect([target.text, target.editedAtMs > 0, target.reactions]).toEqual(["hello", true, [{ emoji: "👍", users: ["alice"] }]]);
    expect((t.message(11n) as MessageEntry).replyQuote).toEqual({ sender: "bob", text: "hello", deleted: false });
    expect(view(t.entries)).toEqual(["10:bob:hello:sent", "11:alice:hi:sent"]);
    expect([t.firstSeq, t.lastSeq]).toEqual([10n, 13n]);
    // The same event again changes nothing; a delete makes a tombstone and the reply's quote says so.
    const again = t.revision;
    t.addStored(act(13, "alice", ActionKind.REACTION_ADD, 10, { emoji: "👍" }));
    expect(t.revision).toBe(again);
    t.replyTo = { seq: 10n, sender: "bob", text: "hello" };
    t.addStored(act(14, "bob", ActionKind.DELETE, 10));
    expect([target.deleted, target.text, target.reactions]).toEqual([true, "", []]);
    expect(t.message(11n)!.replyQuote).toEqual({ sender: "bob", text: "", deleted: true });
    expect(t.replyTo).toBeUndefined();
    // A page that holds only action events still moves the paging anchor down.
    t.addStored(act(5, "bob", ActionKind.REACTION_ADD, 3, { emoji: "🎉" }));
    expect(t.firstSeq).toBe(5n);
  });

  it("takes a newer state from a history page for a message it holds", () => {
    const t = new Timeline(me);
    t.addStored(msg(1, "bob", "old"));
    t.addStored(msg(1, "bob", "new", "id-1", { editedAtMs: 5n, stateSeq: 9n, reactions: [{ emoji: "🎉", users: ["carol"] }] }));
    expect(t.message(1n)).toMatchObject({ text: "new", editedAtMs: 5, stateSeq: 9n, reactions: [{ emoji: "🎉", users: ["carol"] }] });
  });
});
