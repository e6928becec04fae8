// The hub without sockets: presence counts users once, fan-out order under out-of-order commits, typing
// expiry, and the empty-room grace timer — with fake timers so time is explicit.
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { PresenceChange } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { encodePush, HubCore, type Peer, type Timers } from "./hub.ts";
import { payloadOf } from "../transport/wire.ts";

class FakeTimers implements Timers {
  now = 0;
  private readonly due = new Map<string, { at: number; run: () => void }>();
  schedule(key: string, delayMs: number, run: () => void) {
    this.due.set(key, { at: this.now + delayMs, run });
  }
  cancel(key: string) {
    this.due.delete(key);
  }
  advance(ms: number) {
    this.now += ms;
    for (const [key, t] of [...this.due]) if (t.at <= this.now) {
      this.due.delete(key);
      t.run();
    }
  }
}

const peer = (id: number, username: string, token = `t${id}`) => {
  const got: ServerFrame[] = [];
  const p: Peer & { got: ServerFrame[]; terminated?: string } = {
    id,
    username,
    token,
    got,
    send: (bytes) => got.push(fromBinary(ServerFrameSchema, payloadOf(bytes))),
    terminate: (reason) => {
      p.terminated = reason;
    },
  };
  return p;
};

const setup = () => {
  const timers = new FakeTimers();
  const hub = new HubCore({ timers, typingTtlMs: 5000, roomGraceMs: 30000 });
  const expired: string[] = [];
  hub.onRoomExpired = (code) => expired.push(code);
  return { hub, timers, expired };
};

const msg = (seq: bigint) => encodePush({ case: "message", value: { roomCode: "R", seq, text: `m${seq}` } });
const seqs = (p: { got: ServerFrame[] }) => p.got.flatMap((f) => (f.kind.case === "message" ? [Number(f.kind.value.seq)] : []));

describe("presence", () => {
  it("a user with two connections is one member: one JOINED, and LEFT only when the last leaves", () => {
    const { hub } = setup();
    const ann = peer(1, "ann");
    const bob1 = peer(2, "bob");
    const bob2 = peer(3, "bob");
    hub.join("R", false, 0n, ann);
    hub.join("R", false, 0n, bob1);
    const snap = hub.join("R", false, 0n, bob2);
    expect(snap.members).toEqual(["ann", "bob"]);
    const presence = () => ann.got.filter((f) => f.kind.case === "presence").map((f) => f.kind.value);
    expect(presence()).toEqual([expect.objectContaining({ username: "bob", change: PresenceChange.JOINED, memberCount: 2 })]);
    hub.leave("R", bob1);
    expect(presence()).toHaveLength(1);
    hub.leave("R", bob2);
    expect(presence()).toEqual([
      expect.objectContaining({ change: PresenceChange.JOINED }),
      expect.objectContaining({ username: "bob", change: PresenceChange.LEFT, memberCount: 1 }),
    ]);
  });

  it("global presence: subscribers hear a user's first connection and last disconnection only", () => {
    const { hub } = setup();
    const watcher = peer(1, "ann");
    hub.addPeer(watcher);
    hub.subscribeOnline(watcher, true);
    const b1 = peer(2, "bob");
    const b2 = peer(3, "bob");
    hub.addPeer(b1);
    hub.addPeer(b2);
    hub.removePeer(b1, []);
    hub.removePeer(b2, []);
    expect(watcher.got.map((f) => f.kind.value)).toEqual([
      expect.objectContaining({ username: "bob", online: true }),
      expect.objectContaining({ username: "bob", online: false }),
    ]);
    expect(hub.onlineUsers(10)).toEqual({ usernames: ["ann"], truncated: false });
  });
});

describe("delivery", () => {
  it("delivers in seq order even when commits finish out of order, and skips what was already delivered", () => {
    const { hub } = setup();
    const ann = peer(1, "ann");
    const snap = hub.join("R", false, 4n, ann);
    expect(snap.lastSeq).toBe(4n);
    hub.deliver("R", 7n, msg(7n));
    hub.deliver("R", 6n, msg(6n));
    expect(seqs(ann)).toEqual([]);
    hub.deliver("R", 5n, msg(5n));
    expect(seqs(ann)).toEqual([5, 6, 7]);
    hub.deliver("R", 6n, msg(6n));
    expect(seqs(ann)).toEqual([5, 6, 7]);
    expect(hub.join("R", false, 0n, peer(2, "bob")).lastSeq).toBe(7n);
  });

  it("a joiner's snapshot lastSeq is exactly the seq before the first message it is pushed", () => {
    const { hub } = setup();
    const ann = peer(1, "ann");
    hub.join("R", false, 0n, ann);
    hub.deliver("R", 1n, msg(1n));
    const bob = peer(2, "bob");
    const snap = hub.join("R", false, 0n, bob);
    hub.deliver("R", 2n, msg(2n));
    expect(snap.lastSeq).toBe(1n);
    expect(seqs(bob)).toEqual([2]);
  });
});

describe("typing", () => {
  it("pushes to the others only, expires after the TTL, and a refresh extends it", () => {
    const { hub, timers } = setup();
    const ann = peer(1, "ann");
    const bob = peer(2, "bob");
    hub.join("R", false, 0n, ann);
    hub.join("R", false, 0n, bob);
    const typing = (p: { got: ServerFrame[] }) => p.got.filter((f) => f.kind.case === "typing").map((f) => f.kind.case === "typing" && f.kind.value.typing);
    hub.setTyping("R", "ann", true);
    expect(typing(bob)).toEqual([true]);
    expect(typing(ann)).toEqual([]);
    timers.advance(4000);
    hub.setTyping("R", "ann", true);
    expect(typing(bob)).toEqual([true]);
    timers.advance(4000);
    expect(typing(bob)).toEqual([true]);
    timers.advance(1000);
    expect(typing(bob)).toEqual([true, false]);
  });
});

describe("room lifetime", () => {
  it("an empty temporary room expires after the grace; a join within the grace keeps it", () => {
    const { hub, timers, expired } = setup();
    const ann = peer(1, "ann");
    hub.join("T", false, 0n, ann);
    hub.leave("T", ann);
    timers.advance(29000);
    hub.join("T", false, 0n, ann);
    timers.advance(5000);
    expect(expired).toEqual([]);
    hub.leave("T", ann);
    timers.advance(30000);
    expect(expired).toEqual(["T"]);
  });

  it("a persistent room never expires", () => {
    const { hub, timers, expired } = setup();
    const ann = peer(1, "ann");
    hub.join("P", true, 0n, ann);
    hub.leave("P", ann);
    timers.advance(10 ** 9);
    expect(expired).toEqual([]);
  });

  it("logout elsewhere terminates only the connections of that session", () => {
    const { hub } = setup();
    const a1 = peer(1, "ann", "s1");
    const a2 = peer(2, "ann", "s1");
    const a3 = peer(3, "ann", "s2");
    for (const p of [a1, a2, a3]) hub.addPeer(p);
    hub.revokeSession("ann", "s1", a1);
    expect([a1.terminated, a2.terminated, a3.terminated]).toEqual([undefined, "SessionRevoked", undefined]);
  });
});
