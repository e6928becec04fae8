// The Throttles service: the same bucket behaviour from the in-memory layer and the Redis layer (against a real
// throwaway redis-server), one budget shared by two nodes through one Redis, and the fallback to the node's own
// counters while Redis is down.
import { NodeRedis } from "@effect/platform-node";
import { createClient } from "redis";
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest";
import { Context, Effect, Layer } from "effect";
import { TestClock } from "effect/testing";
import { startRedis, type Redis } from "../../../scripts/services.ts";
import { addressKey, networkOf, type ThrottleRule } from "./throttle.ts";
import { Throttles } from "./throttles.ts";

let redis: Redis;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(() => redis?.destroy());

/** A Throttles on its own Redis connection (as one node has), with a prefix unique to the test. */
const redisThrottles = (prefix: string) =>
  Layer.effect(Throttles, Throttles.makeRedis({ prefix })).pipe(Layer.provide(NodeRedis.layer({ url: redis.url })));

let prefixes = 0;
const freshPrefix = () => `test${process.pid}x${++prefixes}:`;

const behaviour = (layer: () => Layer.Layer<Throttles, unknown>) => {
  const rule: ThrottleRule = { limit: 3, windowMs: 60_000 };

  it.effect("take allows `limit`, then refuses with the time to the next token, which refills", () =>
    Effect.gen(function* () {
      const t = yield* Throttles;
      for (let i = 0; i < 3; i++) assert.isTrue((yield* t.apply("login", rule, "alice", "take")).allowed);
      assert.deepStrictEqual(yield* t.apply("login", rule, "alice", "take"), { allowed: false, retryAfterMs: 20_000 });
      assert.isTrue((yield* t.apply("login", rule, "bob", "take")).allowed);
      assert.isTrue((yield* t.apply("other", rule, "alice", "take")).allowed); // names are separate throttles
      yield* TestClock.adjust(5_000);
      assert.deepStrictEqual(yield* t.apply("login", rule, "alice", "check"), { allowed: false, retryAfterMs: 15_000 });
      yield* TestClock.adjust(15_000);
      assert.isTrue((yield* t.apply("login", rule, "alice", "take")).allowed);
      assert.isFalse((yield* t.apply("login", rule, "alice", "check")).allowed);
    }).pipe(Effect.provide(layer())),
  );

  it.effect("check takes nothing; refund gives one back; record goes into debt only as far as maxDebt", () =>
    Effect.gen(function* () {
      const t = yield* Throttles;
      for (let i = 0; i < 10; i++) assert.isTrue((yield* t.apply("c", rule, "k", "check")).allowed);
      for (let i = 0; i < 3; i++) yield* t.apply("c", rule, "k", "take");
      yield* t.apply("c", rule, "k", "refund");
      assert.isTrue((yield* t.apply("c", rule, "k", "take")).allowed);
      const debt: ThrottleRule = { limit: 2, windowMs: 1_000, maxDebt: 2 };
      const waits: Array<number> = [];
      for (let i = 0; i < 6; i++) {
        yield* t.apply("d", debt, "k", "record");
        const v = yield* t.apply("d", debt, "k", "check");
        waits.push(v.allowed ? 0 : v.retryAfterMs);
      }
      assert.deepStrictEqual(waits, [0, 500, 1_000, 1_500, 1_500, 1_500]);
    }).pipe(Effect.provide(layer())),
  );

  it.effect("remember/recall: a mark lasts its TTL", () =>
    Effect.gen(function* () {
      const t = yield* Throttles;
      assert.isFalse(yield* t.recall("known", "carol|192.0.2.1"));
      yield* t.remember("known", "carol|192.0.2.1", 60_000);
      assert.isTrue(yield* t.recall("known", "carol|192.0.2.1"));
      assert.isFalse(yield* t.recall("known", "carol|192.0.2.2"));
    }).pipe(Effect.provide(layer())),
  );
};

describe("Throttles, in memory", () => behaviour(() => Throttles.layerMemory));
describe("Throttles, in Redis", () => behaviour(() => redisThrottles(freshPrefix())));

describe("Throttles across nodes", () => {
  it.live("two nodes sharing one Redis enforce one budget; each alone would have allowed twice as many", () =>
    Effect.gen(function* () {
      const prefix = freshPrefix();
      const rule: ThrottleRule = { limit: 5, windowMs: 60_000 };
      const nodeA = Context.get(yield* Layer.build(redisThrottles(prefix)), Throttles);
      const nodeB = Context.get(yield* Layer.build(redisThrottles(prefix)), Throttles);
      const allowed: Array<string> = [];
      for (let i = 0; i < 10; i++) {
        const node = i % 2 === 0 ? nodeA : nodeB;
        if ((yield* node.apply("registerGlobal", rule, "all", "take")).allowed) allowed.push(i % 2 === 0 ? "A" : "B");
      }
      assert.deepStrictEqual(allowed, ["A", "B", "A", "B", "A"]);
      // A mark set through one node is seen by the other (known addresses hold cluster-wide too).
      yield* nodeA.remember("known", "dave|192.0.2.9", 60_000);
      assert.isTrue(yield* nodeB.recall("known", "dave|192.0.2.9"));
    }).pipe(Effect.scoped),
  );

  it.live(
    "while Redis is down the node's own counters still limit, without waiting on Redis; then Redis is used again",
    () =>
      Effect.gen(function* () {
        const prefix = freshPrefix();
        const node = Context.get(yield* Layer.build(redisThrottles(prefix)), Throttles);
        const rule: ThrottleRule = { limit: 2, windowMs: 60_000 };
        yield* Effect.promise(() => redis.kill());
        const started = performance.now();
        const during: Array<boolean> = [];
        for (let i = 0; i < 3; i++) during.push((yield* node.apply("login", rule, "k", "take")).allowed);
        const elapsed = performance.now() - started;
        assert.deepStrictEqual(during, [true, true, false]);
        assert.isBelow(elapsed, 2_000); // one short timeout, then no waiting on Redis at all
        yield* Effect.promise(() => redis.start());
        // Once the client has reconnected, marks land in Redis again (seen by another client).
        const raw = createClient({ url: redis.url });
        yield* Effect.promise(() => raw.connect());
        let stored = false;
        for (let i = 0; i < 100 && !stored; i++) {
          yield* node.remember("known", `back${i}`, 60_000);
          stored = (yield* Effect.promise(() => raw.exists(`${prefix}known:back${i}`))) === 1;
          if (!stored) yield* Effect.sleep("100 millis");
        }
        yield* Effect.promise(() => raw.close());
        assert.isTrue(stored);
        console.log(`Redis down: 3 throttle calls answered locally in ${elapsed.toFixed(0)} ms`);
      }).pipe(Effect.scoped),
    30_000,
  );
});

describe("networkOf and addressKey", () => {
  it("an address counts as itself for IPv4 and by its /64 for IPv6", () => {
    assert.strictEqual(addressKey("198.51.100.23"), "198.51.100.23");
    assert.strictEqual(addressKey("::ffff:198.51.100.23"), "198.51.100.23");
    assert.strictEqual(addressKey("2001:db8:1:2:aaaa::1"), addressKey("2001:db8:1:2:bbbb::2"));
    assert.notStrictEqual(addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:3::1"));
  });

  it("groups IPv4 by /24 and IPv6 by /64", () => {
    assert.strictEqual(networkOf("198.51.100.23"), "198.51.100.0/24");
    assert.strictEqual(networkOf("::ffff:198.51.100.23"), "198.51.100.0/24");
    assert.strictEqual(networkOf("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert.strictEqual(networkOf("2001:db8::1"), "2001:db8:0:0::/64");
    assert.strictEqual(networkOf("::1"), "0:0:0:0::/64");
  });
});
