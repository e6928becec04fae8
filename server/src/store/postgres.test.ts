// The PostgreSQL Store against a throwaway PostgreSQL 15 on loopback: the shared Store contract, two nodes
// appending to one room, migrations applied once, and a database outage under a stream of appends.
import { PgClient } from "@effect/sql-pg";
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest";
import { Effect, Exit, Redacted } from "effect";
import { SqlClient } from "effect/sql/SqlClient";
import { startPostgres, type Postgres } from "../../../scripts/services.ts";
import { makePostgresStore } from "./postgres.ts";
import { msg, room, seqs, storeContract } from "./store.contract.ts";

let pg: Postgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.destroy());

let databases = 0;
/** The URL of `database` on the throwaway server. */
const urlOf = (database: string) => pg.url.replace(/\/protochat$/, `/${database}`);

/** Runs one statement on the server's `protochat` database (administration: CREATE/DROP DATABASE). */
const admin = (statement: string) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient;
    yield* sql.unsafe(statement);
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(pg.url) })), Effect.scoped, Effect.orDie);

/** A fresh empty database, dropped with the scope. */
const freshDatabase = Effect.acquireRelease(
  Effect.gen(function* () {
    const name = `t${process.pid}_${++databases}`;
    yield* admin(`CREATE DATABASE ${name}`);
    return urlOf(name);
  }),
  (url) => admin(`DROP DATABASE IF EXISTS ${url.slice(url.lastIndexOf("/") + 1)} WITH (FORCE)`),
);

storeContract("PostgreSQL", () => ({ location: freshDatabase, open: (url) => makePostgresStore({ url, poolSize: 4 }) }));

describe("PostgresStore", () => {
  it.live("two nodes appending to one room concurrently get seqs 1..N with no gap or duplicate", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase;
      const [one, two] = yield* Effect.all([makePostgresStore({ url, poolSize: 4 }), makePostgresStore({ url, poolSize: 4 })], {
        concurrency: "unbounded",
      });
      yield* one.store.createRoom(room("SHARED"));
      const n = 400;
      // Each node appends its own half, many at a time; every message also races a retry through the other node.
      const results = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => {
          const [mine, other] = i % 2 === 0 ? [one, two] : [two, one];
          const m = msg("SHARED", `c${i}`, `user${i % 5}`);
          return Effect.all([mine.store.appendMessage(m), i % 8 === 0 ? other.store.appendMessage(m) : Effect.succeed(undefined)], {
            concurrency: "unbounded",
          });
        },
        { concurrency: 64 },
      );
      const firsts = results.map(([r]) => r);
      assert.deepStrictEqual(
        firsts.map((r) => Number(r.message.seq)).sort((a, b) => a - b).filter((s, i, all) => all.indexOf(s) === i).length,
        n,
      );
      for (const [r, retry] of results) if (retry !== undefined) assert.strictEqual(retry.message.seq, r.message.seq);
      const page = yield* two.store.readMessages("SHARED", { anchorSeq: 0n, direction: "forward", limit: n + 10 });
      assert.deepStrictEqual(seqs(page), Array.from({ length: n }, (_, i) => i + 1));
      assert.strictEqual((yield* one.store.findRoom("SHARED"))?.lastSeq, BigInt(n));
      // Both nodes batched their appends.
      const [a, b] = [one.stats(), two.stats()];
      assert.isBelow(a.batches + b.batches, n);
      console.log(`two nodes: ${n} appends + ${n / 8} cross-node retries in ${a.batches + b.batches} commits, ${a.retries + b.retries} batches rerun after a race`);
      // DMs of one conversation from both nodes share one gap-free sequence too.
      const dms = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) =>
          (i % 2 === 0 ? one : two).store.appendDirect({ sender: i % 3 ? "Kim" : "lee", recipient: i % 3 ? "LEE" : "kim", clientMessageId: `d${i}`, text: "x", sentAtMs: i }),
        { concurrency: "unbounded" },
      );
      assert.deepStrictEqual(dms.map((r) => Number(r.message.seq)).sort((a, b) => a - b), Array.from({ length: 60 }, (_, i) => i + 1));
    }).pipe(Effect.scoped));

  it.live("nodes starting together on an empty database apply each migration once", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase;
      const stores = yield* Effect.all(
        [1, 2, 3].map(() => makePostgresStore({ url, poolSize: 2 })),
        { concurrency: "unbounded" },
      );
      yield* stores[0]!.store.createRoom(room("MIGRAT"));
      const rows = yield* Effect.gen(function* () {
        const sql = yield* SqlClient;
        return yield* sql<{ migration_id: number; name: string }>`SELECT migration_id, name FROM effect_sql_migrations`;
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })));
      assert.deepStrictEqual(rows.map((r) => [r.migration_id, r.name]), [[1, "init"]]);
      assert.strictEqual((yield* stores[2]!.store.findRoom("MIGRAT"))?.code, "MIGRAT");
    }).pipe(Effect.scoped));

  it.live("an unreachable database fails the start fast with StorageUnavailable", () =>
    Effect.gen(function* () {
      const started = Date.now();
      const error = yield* Effect.flip(makePostgresStore({ url: urlOf("protochat").replace(`:${pg.port}/`, ":1/") }));
      assert.strictEqual(error._tag, "StorageUnavailable");
      assert.isBelow(Date.now() - started, 5_000);
    }).pipe(Effect.scoped));
});
