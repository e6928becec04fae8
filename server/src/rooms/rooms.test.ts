// Rooms over the in-memory bus and presence, two nodes in one test sharing a store, with TestClock: a
// temporary room outlives a grace that ends while another node still holds a member and is destroyed once
// empty everywhere; a persistent room never expires; a join interrupted while Presence records it is undone;
// the presence grace keeps a closed connection's user a member and delays the room's expiry.
import { assert, describe, it } from "@effect/vitest";
import { Context, Deferred, Effect, Fiber, Layer } from "effect";
import { TestClock } from "effect/testing";
import { JoinThrottle } from "../auth/join-throttle.ts";
import { Throttles } from "../auth/throttles.ts";
import { Bus, MemoryNetwork } from "../bus/bus.ts";
import { ServerConfig, testConfig } from "../config.ts";
import { Hub, type Peer } from "../hub/hub.ts";
import { Presence, type PresenceShape, PresenceTable } from "../presence/presence.ts";
import { SqliteStore } from "../store/sqlite.ts";
import { Store } from "../store/store.ts";
import { type Membership, Rooms } from "./rooms.ts";

const GRACE = 30_000;

const peer = (id: number, username: string): Peer => ({ id, username, token: `t${id}`, send() {}, terminate() {} });
const member = (p: Peer): Membership => ({ peer: p, ip: "203.0.113.9", rooms: new Set() });

/** One node's Rooms and Hub over a shared store, network and presence table; `presence` may wrap the table's view. */
const node = (
  nodeId: string,
  shared: { network: MemoryNetwork; table: PresenceTable },
  wrap: (p: PresenceShape) => PresenceShape = (p) => p,
  presenceGraceMs = 0,
) =>
  Effect.gen(function* () {
    const store = yield* Store;
    const config = Layer.succeed(ServerConfig, testConfig({ nodeId, roomGraceMs: GRACE, presenceGraceMs, rooms: [] }));
    const presence = Layer.succeed(Presence, wrap(shared.table.node(nodeId)));
    const base = Layer.mergeAll(
      config,
      Layer.succeed(Store, store),
      Hub.layer,
      Bus.layerMemory(shared.network),
      presence,
      JoinThrottle.layer.pipe(Layer.provide(Throttles.layerMemory)),
    ).pipe(Layer.provideMerge(config));
    const context = yield* Layer.build(Rooms.layer.pipe(Layer.provideMerge(base)));
    return { rooms: Context.get(context, Rooms), hub: Context.get(context, Hub), presence: Context.get(context, Presence) };
  });

const shared = () => ({ network: new MemoryNetwork(), table: new PresenceTable() });
const joinedCode = (out: { code?: string }) => (j: { room: { code: string } }) => {
  out.code = j.room.code;
};

describe("Rooms", () => {
  it.effect("a temporary room expires only once it has been empty on every node for the grace", () =>
    Effect.gen(function* () {
      const s = shared();
      const a = yield* node("a", s);
      const b = yield* node("b", s);
      const store = yield* Store;
      const ann = member(peer(1, "ann"));
      const bob = member(peer(2, "bob"));
      const made: { code?: string } = {};
      yield* a.rooms.create(ann, "", false, joinedCode(made));
      const code = made.code!;
      yield* b.rooms.join(bob, code, () => {});
      yield* a.rooms.leave(ann, code);
      yield* TestClock.adjust(GRACE * 2);
      assert.strictEqual((yield* store.findRoom(code))?.destroyedAtMs, null, "bob on node b still holds it");
      yield* b.rooms.leave(bob, code);
      yield* TestClock.adjust(GRACE - 1);
      assert.strictEqual((yield* store.findRoom(code))?.destroyedAtMs, null, "within the grace");
      yield* TestClock.adjust(2);
      assert.isNumber((yield* store.findRoom(code))?.destroyedAtMs);
    }).pipe(Effect.scoped, Effect.provide(SqliteStore.layerTemp)),
  );

  it.effect("a join within the grace keeps the room; a persistent room never expires", () =>
    Effect.gen(function* () {
      const s = shared();
      const a = yield* node("a", s);
      const store = yield* Store;
      const ann = member(peer(1, "ann"));
      const temp: { code?: string } = {};
      const kept: { code?: string } = {};
      yield* a.rooms.create(ann, "", false, joinedCode(temp));
      yield* a.rooms.create(ann, "kept", true, joinedCode(kept));
      yield* a.rooms.leave(ann, temp.code!);
      yield* a.rooms.leave(ann, kept.code!);
      yield* TestClock.adjust(GRACE - 1000);
      yield* a.rooms.join(ann, temp.code!, () => {});
      yield* TestClock.adjust(GRACE * 10);
      assert.strictEqual((yield* store.findRoom(temp.code!))?.destroyedAtMs, null);
      assert.strictEqual((yield* store.findRoom(kept.code!))?.destroyedAtMs, null);
    }).pipe(Effect.scoped, Effect.provide(SqliteStore.layerTemp)),
  );

  it.effect(
    "presence grace: a closed connection's user stays a member for the grace; back through another node, never gone; the room's expiry starts after it",
    () =>
      Effect.gen(function* () {
        const PG = 5000;
        const s = shared();
        const a = yield* node("a", s, undefined, PG);
        const b = yield* node("b", s, undefined, PG);
        const store = yield* Store;
        const ann = member(peer(1, "ann"));
        const made: { code?: string } = {};
        yield* a.rooms.create(ann, "", false, joinedCode(made));
        const code = made.code!;
        const bob = member(peer(2, "bob"));
        yield* b.rooms.join(bob, code, () => {});
        // Bob's connection on b closes (a reload): still a member until the grace ends.
        b.hub.removePeer(bob.peer, bob.rooms, true);
        yield* TestClock.adjust(PG - 1);
        assert.deepStrictEqual(yield* a.presence.counts([code]), [2]);
        // ... and back through node a within it: the join finds him a member (no JOINED), the grace ends quietly.
        const bob2 = member(peer(3, "bob"));
        let members: ReadonlyArray<string> = [];
        yield* a.rooms.join(bob2, code, (j) => (members = j.members));
        assert.deepStrictEqual(members, ["ann", "bob"]);
        yield* TestClock.adjust(PG * 2);
        assert.deepStrictEqual(yield* a.presence.counts([code]), [2]);
        // A drop with no return: gone when the grace ends; the room's own grace starts only then.
        a.hub.removePeer(ann.peer, ann.rooms, true);
        a.hub.removePeer(bob2.peer, bob2.rooms, true);
        yield* TestClock.adjust(PG + 1);
        assert.deepStrictEqual(yield* a.presence.counts([code]), [0]);
        yield* TestClock.adjust(GRACE - 1000);
        assert.strictEqual((yield* store.findRoom(code))?.destroyedAtMs, null, "the room grace counts from the end of the presence grace");
        yield* TestClock.adjust(2000);
        assert.isNumber((yield* store.findRoom(code))?.destroyedAtMs);
      }).pipe(Effect.scoped, Effect.provide(SqliteStore.layerTemp)),
  );

  it.effect("a join interrupted while Presence records it leaves no member behind", () =>
    Effect.gen(function* () {
      const s = shared();
      const gate = yield* Deferred.make<void>();
      // Node b's Presence records the join, then waits (a slow Redis round trip) until the gate opens.
      const b = yield* node("b", s, (p) => ({
        ...p,
        join: (code, username) => Effect.tap(p.join(code, username), () => Deferred.await(gate)),
      }));
      const a = yield* node("a", s);
      const ann = member(peer(1, "ann"));
      const made: { code?: string } = {};
      yield* a.rooms.create(ann, "", false, joinedCode(made));
      const code = made.code!;
      const bob = member(peer(2, "bob"));
      const joining = yield* Effect.forkChild(b.rooms.join(bob, code, () => {}));
      yield* Effect.yieldNow;
      assert.deepStrictEqual(yield* a.presence.counts([code]), [2]);
      yield* Fiber.interrupt(joining);
      yield* Effect.yieldNow;
      assert.deepStrictEqual(yield* a.presence.counts([code]), [1]);
      assert.isFalse(b.hub.hasMember(code, "bob"));
    }).pipe(Effect.scoped, Effect.provide(SqliteStore.layerTemp)),
  );
});
