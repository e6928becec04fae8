// The keyed throttle and the join throttle under TestClock: limits, refill, retryAfterMs, bounded memory.
import { assert, describe, it } from "@effect/vitest";
import { Effect, Layer } from "effect";
import { TestClock } from "effect/testing";
import { JoinThrottle } from "./join-throttle.ts";
import { KeyedThrottle } from "./throttle.ts";
import { Throttles } from "./throttles.ts";

describe("KeyedThrottle", () => {
  it.effect("allows `limit` attempts, then refuses with the time until the next token", () =>
    Effect.gen(function* () {
      const throttle = new KeyedThrottle({ limit: 5, windowMs: 15 * 60_000 });
      for (let i = 0; i < 5; i++) assert.isTrue((yield* throttle.take("alice")).allowed);
      const refused = yield* throttle.take("alice");
      assert.deepStrictEqual(refused, { allowed: false, retryAfterMs: 3 * 60_000 });
      // Other keys are unaffected.
      assert.isTrue((yield* throttle.take("bob")).allowed);
      yield* TestClock.adjust(60_000);
      assert.deepStrictEqual(yield* throttle.check("alice"), { allowed: false, retryAfterMs: 2 * 60_000 });
      yield* TestClock.adjust(2 * 60_000);
      // One token back after windowMs/limit: one attempt, then wait again (a steady backoff).
      assert.isTrue((yield* throttle.take("alice")).allowed);
      assert.isFalse((yield* throttle.take("alice")).allowed);
    }),
  );

  it.effect("check does not consume; record always does; refund gives one back", () =>
    Effect.gen(function* () {
      const throttle = new KeyedThrottle({ limit: 2, windowMs: 1_000 });
      for (let i = 0; i < 10; i++) assert.isTrue((yield* throttle.check("k")).allowed);
      yield* throttle.record("k");
      yield* throttle.record("k");
      yield* throttle.record("k"); // already empty: stays at zero, not below
      assert.deepStrictEqual(yield* throttle.check("k"), { allowed: false, retryAfterMs: 500 });
      yield* throttle.refund("k");
      assert.isTrue((yield* throttle.take("k")).allowed);
      assert.isFalse((yield* throttle.check("k")).allowed);
    }),
  );

  it.effect("forgets keys whose bucket refilled and never holds more than maxKeys", () =>
    Effect.gen(function* () {
      const throttle = new KeyedThrottle({ limit: 3, windowMs: 1_000 }, { maxKeys: 100 });
      for (let i = 0; i < 1_000; i++) yield* throttle.record(`ip-${i}`);
      assert.strictEqual(throttle.size, 100);
      // The newest keys are the ones kept.
      assert.deepStrictEqual(yield* throttle.check("ip-999"), { allowed: true });
      yield* TestClock.adjust(2_000);
      for (let i = 0; i < 200; i++) yield* throttle.check(`fresh-${i}`);
      assert.strictEqual(throttle.size, 0);
    }),
  );

  it.effect("a rule with an infinite limit is off", () =>
    Effect.gen(function* () {
      const throttle = new KeyedThrottle({ limit: Infinity, windowMs: 1 });
      for (let i = 0; i < 100; i++) assert.isTrue((yield* throttle.take("k")).allowed);
      assert.strictEqual(throttle.size, 0);
    }),
  );
});

describe("JoinThrottle", () => {
  it.effect("refuses joins after 10 failures per user, counted case-insensitively, until a token refills", () =>
    Effect.gen(function* () {
      const joins = yield* JoinThrottle;
      for (let i = 0; i < 10; i++) {
        yield* joins.checkJoin("Mallory", `10.0.0.${i}`);
        yield* joins.recordJoinFailure(i % 2 === 0 ? "Mallory" : "MALLORY", `10.0.0.${i}`);
      }
      const refused = yield* Effect.flip(joins.checkJoin("mallory", "10.0.0.99"));
      assert.deepStrictEqual([refused._tag, refused.scope, refused.retryAfterMs], ["RateLimited", "join", 6_000]);
      yield* joins.checkJoin("alice", "10.0.0.1"); // another user from one of those IPs is fine
      yield* TestClock.adjust(6_000);
      yield* joins.checkJoin("mallory", "10.0.0.99");
    }).pipe(Effect.provide(JoinThrottle.layer.pipe(Layer.provide(Throttles.layerMemory)))),
  );

  it.effect("refuses joins from an IP after its failures, whichever users made them", () =>
    Effect.gen(function* () {
      const joins = yield* JoinThrottle;
      for (let i = 0; i < 3; i++) yield* joins.recordJoinFailure(`user${i}`, "192.0.2.7");
      const refused = yield* Effect.flip(joins.checkJoin("someone-new", "192.0.2.7"));
      assert.strictEqual(refused._tag, "RateLimited");
      yield* joins.checkJoin("someone-new", "192.0.2.8");
    }).pipe(Effect.provide(JoinThrottle.layerWith({ perIp: { limit: 3, windowMs: 60_000 } }).pipe(Layer.provide(Throttles.layerMemory)))),
  );
});
