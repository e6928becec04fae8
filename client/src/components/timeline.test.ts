// The timeline model: seq order, dedup by seq, pending sends matched to their push and ack, notices in place.
import { describe, expect, it } from "vitest";
import { type Entry, Timeline } from "./timeline.ts";

const me = (name: string) => name.toLowerCase() === "alice";
const msg = (seq: number, sender: string, text: string, clientMessageId = `id-${seq}`) => ({
  seq: BigInt(seq),
  sender,
  sentAtMs: BigInt(1_764_000_000_000 + seq),
  text,
  clientMessageId,
});
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
});
