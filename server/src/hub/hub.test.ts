// The hub without sockets: a user is one member here however many connections, what the listeners hear,
// fan-out order under out-of-order commits, typing expiry, logout, which departures may linger (presence
// grace) — with fake timers so time is explicit.
import { fromBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { encodePush, HubCore, type Peer, type Timers } from "./hub.ts";
import { payloadOf } from "../transport/wire.ts";
import { hashToken } from "../auth/tokens.ts";

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
    for (const [key, t] of [...this.due])
      if (t.at <= this.now) {
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
  const hub = new HubCore({ timers, typingTtlMs: 5000 });
  const events: string[] = [];
  hub.listen({
    userOnline: (u, on) => events.push(`online ${u} ${on}`),
    memberLeft: (code, u) => events.push(`left ${code} ${u}`),
    typingChanged: (code, u) => events.push(`typing ${code} ${u}`),
    sessionRevoked: (u) => events.push(`revoked ${u}`),
    gap: (code) => events.push(`gap ${code}`),
    roomLive: (code) => events.push(`live ${code}`),
  });
  return { hub, timers, events };
};

const msg = (seq: bigint) => encodePush({ case: "message", value: { roomCode: "R", seq, text: `m${seq}` } });
const seqs = (p: { got: ServerFrame[] }) => p.got.flatMap((f) => (f.kind.case === "message" ? [Number(f.kind.value.seq)] : []));

describe("local membership", () => {
  it("a user with two connections here is one member: the listeners hear the last one leave, once", () => {
    const { hub, events } = setup();
    const bob1 = peer(2, "bob");
    const bob2 = peer(3, "bob");
    hub.join("R", false, 0n, bob1);
    hub.join("R", false, 0n, bob2);
    expect(hub.localMembers("R")).toEqual(["bob"]);
    hub.leave("R", bob1);
    expect(events.filter((e) => e.startsWith("left"))).toEqual([]);
    expect(hub.hasMember("R", "bob")).toBe(true);
    hub.leave("R", bob2);
    expect(events.filter((e) => e.startsWith("left"))).toEqual(["left R bob"]);
    expect(hub.isLive("R")).toBe(false);
  });

  it("a user's first connection here and last one are told to the listeners; pushOnline reaches subscribers", () => {
    const { hub, events } = setup();
    const watcher = peer(1, "ann");
    hub.addPeer(watcher);
    hub.subscribeOnline(watcher, true);
    const b1 = peer(2, "bob");
    const b2 = peer(3, "bob");
    hub.addPeer(b1);
    hub.addPeer(b2);
    hub.removePeer(b1, []);
    hub.removePeer(b2, []);
    expect(events).toEqual(["online ann true", "online bob true", "online bob false"]);
    hub.pushOnline(encodePush({ case: "userPresence", value: { username: "bob", online: false } }));
    expect(watcher.got.map((f) => f.kind.value)).toEqual([expect.objectContaining({ username: "bob", online: false })]);
  });

  it("the listeners hear whether a departure may linger: a closed connection may (presence grace), a leave or a logout's close may not", () => {
    const timers = new FakeTimers();
    const hub = new HubCore({ timers, typingTtlMs: 5000 });
    const events: string[] = [];
    hub.listen({
      userOnline: (u, on, linger) => events.push(`online ${u} ${on} linger=${linger}`),
      memberLeft: (code, u, _persistent, linger) => events.push(`left ${code} ${u} linger=${linger}`),
    });
    const bob = peer(2, "bob");
    hub.addPeer(bob);
    hub.join("R1", false, 0n, bob);
    hub.join("R2", false, 0n, bob);
    hub.leave("R1", bob);
    hub.removePeer(bob, ["R2"], true);
    const cat = peer(3, "cat");
    hub.addPeer(cat);
    hub.join("R1", false, 0n, cat);
    hub.removePeer(cat, ["R1"]);
    expect(events).toEqual([
      "online bob true linger=false",
      "left R1 bob linger=false",
      "left R2 bob linger=true",
      "online bob false linger=true",
      "online cat true linger=false",
      "left R1 cat linger=false",
      "online cat false linger=false",
    ]);
  });

  it("a logout here or elsewhere tells the listeners which session ended (by token hash)", () => {
    const timers = new FakeTimers();
    const hub = new HubCore({ timers, typingTtlMs: 5000 });
    const ended: string[] = [];
    hub.listen({ sessionEnded: (u, hash) => ended.push(`${u} ${hash}`) });
    const bob = peer(2, "bob", "tok-1");
    hub.addPeer(bob);
    hub.revokeSession("bob", "tok-1", bob);
    hub.revokeSessionHash("bob", hashToken("tok-2"));
    expect(ended).toEqual([`bob ${hashToken("tok-1")}`, `bob ${hashToken("tok-2")}`]);
  });

  it("a removed listener hears nothing more, and two listeners both hear (none replaces the other)", () => {
    const timers = new FakeTimers();
    const hub = new HubCore({ timers, typingTtlMs: 5000 });
    const a: string[] = [];
    const b: string[] = [];
    const stopA = hub.listen({ userOnline: (u) => a.push(u) });
    hub.listen({ userOnline: (u) => b.push(u) });
    hub.addPeer(peer(1, "ann"));
    stopA();
    hub.addPeer(peer(2, "bob"));
    expect(a).toEqual(["ann"]);
    expect(b).toEqual(["ann", "bob"]);
  });
});

describe("delivery", () => {
  it("delivers in seq order even when commits finish out of order, and skips what was already delivered", () => {
    const { hub, events } = setup();
    const ann = peer(1, "ann");
    const snap = hub.join("R", false, 4n, ann);
    expect(snap.lastSeq).toBe(4n);
    hub.deliver("R", 7n, msg(7n));
    hub.deliver("R", 6n, msg(6n));
    expect(seqs(ann)).toEqual([]);
    hub.deliver("R", 5n, msg(5n));
    expect(seqs(ann)).toEqual([5, 6, 7]);
    expect(events.filter((e) => e.startsWith("gap"))).toEqual(["gap R"]);
    expect(hub.position("R")).toEqual({ nextSeq: 8n, waiting: false });
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
    const typing = (p: { got: ServerFrame[] }) =>
      p.got.filter((f) => f.kind.case === "typing").map((f) => f.kind.case === "typing" && f.kind.value.typing);
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

describe("sessions", () => {
  it("logout elsewhere terminates only the connections of that session", () => {
    const { hub, events } = setup();
    const a1 = peer(1, "ann", "s1");
    const a2 = peer(2, "ann", "s1");
    const a3 = peer(3, "ann", "s2");
    for (const p of [a1, a2, a3]) hub.addPeer(p);
    hub.revokeSession("ann", "s1", a1);
    expect([a1.terminated, a2.terminated, a3.terminated]).toEqual([undefined, "SessionRevoked", undefined]);
    expect(events.filter((e) => e.startsWith("revoked"))).toEqual(["revoked ann"]);
  });

  it("a logout on another node closes this node's connections of that session, found by the token's hash", () => {
    const { hub } = setup();
    const a1 = peer(1, "ann", "s1");
    const a2 = peer(2, "ann", "s2");
    hub.addPeer(a1);
    hub.addPeer(a2);
    hub.revokeSessionHash("ann", hashToken("s2"));
    expect([a1.terminated, a2.terminated]).toEqual([undefined, "SessionRevoked"]);
  });
});
