// The throwaway services start, answer real clients, survive an outage/restart cycle and leave nothing behind.
import { PgClient } from "@effect/sql-pg";
import { Effect, Redacted } from "effect";
import { SqlClient } from "effect/sql/SqlClient";
import { createClient } from "redis";
import { describe, expect, it } from "vitest";
import { startPostgres, startRedis } from "./services.ts";

describe("throwaway services", () => {
  it("PostgreSQL: queries, stops keeping data, starts again", async () => {
    const pg = await startPostgres();
    try {
      const query = (sql: string) =>
        Effect.runPromise(
          Effect.gen(function* () {
            const client = yield* SqlClient;
            return yield* client.unsafe(sql);
          }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(pg.url) })), Effect.scoped),
        );
      await query("CREATE TABLE t (x int)");
      await query("INSERT INTO t VALUES (42)");
      pg.stop();
      await expect(query("SELECT x FROM t")).rejects.toBeDefined();
      pg.start();
      expect(await query("SELECT x FROM t")).toEqual([{ x: 42 }]);
    } finally {
      pg.destroy();
    }
  }, 60_000);

  it("Redis: answers, restarts empty after a kill", async () => {
    const redis = await startRedis();
    try {
      const client = createClient({ url: redis.url });
      await client.connect();
      await client.set("k", "v");
      expect(await client.get("k")).toBe("v");
      client.destroy();
      await redis.kill();
      await redis.start();
      const again = createClient({ url: redis.url });
      await again.connect();
      expect(await again.get("k")).toBeNull();
      again.destroy();
    } finally {
      await redis.destroy();
    }
  }, 30_000);
});
