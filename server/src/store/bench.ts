// Append throughput of the stores: SQLite (a temp file) and PostgreSQL (a throwaway local server), one append at
// a time (one commit each) against concurrent appends that share group commits, and for PostgreSQL also without
// group commit, over many rooms, and from two nodes into one room.
// Run: node_modules/.bin/node server/src/store/bench.ts [count] [concurrency] [sqlite|postgres|both]
import { Effect, type Scope } from "effect";
import { startPostgres } from "../../../scripts/services.ts";
import { makePostgresStore, type PostgresStoreOptions } from "./postgres.ts";
import { freshDatabase } from "./postgres-scratch.ts";
import { makeSqliteStore, SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

const count = Number(process.argv[2] ?? 2_000);
const concurrency = Number(process.argv[3] ?? 256);
const which = process.argv[4] ?? "both";

type Opened = { readonly store: Store["Service"]; readonly stats: () => { batches: number; appends: number; largestBatch: number } };

const message = (i: number, rooms: number) => ({
  roomCode: `BENCH${i % rooms}`,
  sender: `user${i % 50}`,
  clientMessageId: `m-${i}`,
  text: "x".repeat(80),
  sentAtMs: Date.now(),
});

/** Appends `count` messages over `rooms` rooms, `parallel` at a time, spread over the given nodes. */
const run = (label: string, open: Effect.Effect<ReadonlyArray<Opened>, unknown, Scope.Scope>, parallel: number, rooms = 1) =>
  Effect.scoped(
    Effect.gen(function* () {
      const nodes = yield* open;
      for (let r = 0; r < rooms; r++) {
        yield* nodes[0]!.store.createRoom({ code: `BENCH${r}`, name: "bench", persistent: false, createdBy: "bench", createdAtMs: 0 });
      }
      const start = performance.now();
      yield* Effect.forEach(
        Array.from({ length: count }, (_, i) => i),
        (i) => nodes[i % nodes.length]!.store.appendMessage(message(i, rooms)),
        { concurrency: parallel, discard: true },
      );
      const seconds = (performance.now() - start) / 1000;
      const s = nodes
        .map((n) => n.stats())
        .reduce((a, b) => ({
          batches: a.batches + b.batches,
          appends: a.appends + b.appends,
          largestBatch: Math.max(a.largestBatch, b.largestBatch),
        }));
      console.log(
        `${label.padEnd(44)} ${String(Math.round(count / seconds)).padStart(8)} appends/s  (${s.batches} commits, ${(s.appends / s.batches).toFixed(1)} per commit, largest ${s.largestBatch})`,
      );
      return count / seconds;
    }),
  );

const sqlite = Effect.gen(function* () {
  console.log(`SQLite store, WAL + synchronous=FULL, ${count} appends of 80 bytes, temp dir on ${process.env.TMPDIR ?? "/tmp"}`);
  const open = Effect.flatMap(SqliteStore.tempFile, (file) => Effect.map(makeSqliteStore({ file }), (s) => [s]));
  const single = yield* run("one at a time", open, 1);
  const batched = yield* run(`${concurrency} concurrent (group commit)`, open, concurrency);
  console.log(`group commit speed-up: ${(batched / single).toFixed(1)}x`);
});

const postgres = Effect.gen(function* () {
  const pg = yield* Effect.acquireRelease(
    Effect.promise(() => startPostgres()),
    (server) => Effect.sync(() => server.destroy()),
  );
  console.log(`PostgreSQL store, local PostgreSQL 15 (fsync on, synchronous_commit on) over loopback TCP, ${count} appends of 80 bytes`);
  /** `nodes` stores (one pool each) on a fresh database. */
  const open = (nodes: number, options: Partial<PostgresStoreOptions> = {}) =>
    Effect.gen(function* () {
      const url = yield* freshDatabase(pg.url);
      return yield* Effect.all(
        Array.from({ length: nodes }, () => makePostgresStore({ url, ...options })),
        { concurrency: "unbounded" },
      );
    });
  const single = yield* run("one at a time", open(1), 1);
  const batched = yield* run(`${concurrency} concurrent (group commit)`, open(1), concurrency);
  const alone = yield* run(`${concurrency} concurrent, no group commit (pool 10)`, open(1, { groupCommit: false }), concurrency);
  yield* run(`${concurrency} concurrent over 50 rooms (group commit)`, open(1), concurrency, 50);
  yield* run(`${concurrency} concurrent over 50 rooms, no group commit`, open(1, { groupCommit: false }), concurrency, 50);
  yield* run(`2 nodes x ${concurrency / 2} concurrent, one room`, open(2), concurrency);
  console.log(
    `group commit speed-up: ${(batched / single).toFixed(1)}x over one at a time, ${(batched / alone).toFixed(1)}x over concurrent transactions`,
  );
});

const program = Effect.scoped(
  Effect.gen(function* () {
    if (which !== "postgres") yield* sqlite;
    if (which !== "sqlite") yield* postgres;
  }),
);

Effect.runPromise(program).catch((error) => {
  console.error(error);
  process.exit(1);
});
