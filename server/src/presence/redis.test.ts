// The Redis Presence layer against a real throwaway Redis: the same contract as the in-memory layer, a dead
// node (its liveness key lapses) reaped by another, and a Redis restarted empty refilled by every node.
import { NodeRedis } from "@effect/platform-node";
import { Context, Effect, Exit, Layer, Scope } from "effect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startRedis, type Redis } from "../../../scripts/services.ts";
import { ServerConfig, testConfig } from "../config.ts";
import { presenceContract } from "./contract.ts";
import { Presence, type PresenceShape } from "./presence.ts";
import { RedisPresence } from "./redis.ts";

let redis: Redis;
beforeAll(async () => {
  redis = await startRedis();
}, 30_000);
afterAll(async () => {
  await redis?.destroy();
});

const TTL = 600;
let nodes = 0;

const startNode = async (nodeId = `n${++nodes}-${process.pid}`): Promise<{ presence: PresenceShape; stop: () => Promise<void> }> => {
  const scope = await Effect.runPromise(Scope.make());
  const config = testConfig({ nodeId, redisUrl: redis.url, nodeTtlMs: TTL });
  const layer = RedisPresence.layer.pipe(
    Layer.provide(Layer.merge(NodeRedis.layer({ url: redis.url }), Layer.succeed(ServerConfig, config))),
  );
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope));
  return { presence: Context.get(context, Presence), stop: () => Effect.runPromise(Scope.close(scope, Exit.void)) };
};

const flush = async () => {
  const { createClient } = await import("redis");
  const c = createClient({ url: redis.url });
  await c.connect();
  await c.flushAll();
  await c.close();
};

presenceContract(
  "Redis presence",
  async () => {
    await flush();
    const a = await startNode();
    const b = await startNode();
    let bStopped = false;
    return {
      a: a.presence,
      b: b.presence,
      // Stopping B's layer ends its liveness refresh without removing what it holds: a SIGKILL as others see it.
      killB: async () => {
        await b.stop();
        bStopped = true;
        await new Promise((r) => setTimeout(r, TTL + 200));
      },
      close: async () => {
        await a.stop();
        if (!bStopped) await b.stop();
      },
    };
  },
  20_000,
);

it("after Redis restarts empty, every node writes what it holds again", { timeout: 30_000 }, async () => {
  await flush();
  const a = await startNode();
  const b = await startNode();
  try {
    const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e);
    await run(a.presence.join("RR", "ann"));
    await run(b.presence.join("RR", "bob"));
    await run(b.presence.setOnline("bob", true));
    await redis.kill();
    await redis.start();
    const deadline = Date.now() + 15_000;
    let counts: ReadonlyArray<number> = [];
    while (Date.now() < deadline) {
      counts = await run(a.presence.counts(["RR"]));
      if (counts[0] === 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(counts).toEqual([2]);
    expect(await run(a.presence.online(10))).toEqual({ usernames: ["bob"], truncated: false });
  } finally {
    await a.stop();
    await b.stop();
  }
});

it(
  "a node restarted under the same id, before its liveness lapsed, drops and announces what its predecessor held",
  { timeout: 30_000 },
  async () => {
    await flush();
    const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e);
    const other = await startNode();
    const first = await startNode("fixed-id");
    await run(other.presence.join("RS", "ann"));
    await run(first.presence.join("RS", "bob"));
    await run(first.presence.setOnline("bob", true));
    await first.stop(); // as if SIGKILLed: nothing removed
    const second = await startNode("fixed-id");
    try {
      expect(await run(other.presence.counts(["RS"]))).toEqual([1]);
      expect(await run(second.presence.reapDead())).toEqual({ left: [{ code: "RS", username: "bob", count: 1 }], offline: ["bob"] });
      expect(await run(second.presence.reapDead())).toEqual({ left: [], offline: [] });
    } finally {
      await second.stop();
      await other.stop();
    }
  },
);

it("a leave that failed while Redis was unresponsive is reconciled and announced afterwards", { timeout: 30_000 }, async () => {
  await flush();
  const run = <A>(e: Effect.Effect<A>) => Effect.runPromise(e);
  const a = await startNode();
  const b = await startNode();
  try {
    await run(a.presence.join("RP", "ann"));
    await run(b.presence.join("RP", "bob"));
    const { createClient } = await import("redis");
    const admin = createClient({ url: redis.url });
    await admin.connect();
    await admin.sendCommand(["CLIENT", "PAUSE", "2600", "ALL"]);
    await admin.close();
    // Redis does not answer within the call timeout: the node answers from its own view (no LEFT, nothing destroyed).
    expect(await run(b.presence.leave("RP", "bob"))).toEqual({ changed: false, count: 1 });
    const deadline = Date.now() + 10_000;
    let counts: ReadonlyArray<number> = [];
    while (Date.now() < deadline) {
      counts = await run(a.presence.counts(["RP"]));
      if (counts[0] === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(counts).toEqual([1]);
    expect(await run(b.presence.reapDead())).toEqual({ left: [{ code: "RP", username: "bob", count: 1 }], offline: [] });
  } finally {
    await a.stop();
    await b.stop();
  }
});
