// The PostgreSQL Store against a throwaway PostgreSQL 15 on loopback: the shared Store contract, two nodes
// appending to one room, migrations applied once, and a database outage under a stream of appends.
import { PgClient } from "@effect/sql-pg";
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest";
import { Effect, Fiber, Redacted } from "effect";
import { SqlClient } from "effect/sql/SqlClient";
import { startPostgres, type Postgres } from "../../../scripts/services.ts";
import * as Migrator from "effect/sql/Migrator";
import { makePostgresStore } from "./postgres.ts";
import { migrations } from "./postgres-migrations.ts";
import { freshDatabase as scratchDatabase } from "./postgres-scratch.ts";
import { msg, room, seqs, storeContract } from "./store.contract.ts";

let pg: Postgres;
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => pg?.destroy());

/** The URL of `database` on the throwaway server. */
const urlOf = (database: string) => pg.url.replace(/\/protochat$/, `/${database}`);
const freshDatabase = Effect.suspend(() => scratchDatabase(pg.url));

storeContract("PostgreSQL", () => ({ location: freshDatabase, open: (url) => makePostgresStore({ url, poolSize: 4 }) }));

describe("PostgresStore", () => {
  it.live("upgrades a database made before message actions in place: old messages read as plain and take actions", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase;
      yield* Effect.gen(function* () {
        const sql = yield* SqlClient;
        yield* Migrator.make({})({ loader: Migrator.fromRecord({ "1_init": migrations["1_init"]! }) });
        yield* sql`INSERT INTO rooms (code, name, persistent, created_by, created_at_ms, last_seq) VALUES ('OLDOLD', 'old', true, 'alice', 1, 1)`;
        yield* sql`INSERT INTO messages (room_code, seq, sender, sent_at_ms, text, client_message_id) VALUES ('OLDOLD', 1, 'alice', 2, 'before', 'c1')`;
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })));
      const { store } = yield* makePostgresStore({ url, poolSize: 2 });
      const before = yield* store.readMessages("OLDOLD", { anchorSeq: 0n, direction: "forward", limit: 5 });
      assert.deepStrictEqual(
        [before.messages[0]!.text, before.messages[0]!.action, before.messages[0]!.editedAtMs],
        ["before", undefined, 0],
      );
      const edit = yield* store.appendRoomAction({
        roomCode: "OLDOLD",
        kind: "edit",
        targetSeq: 1n,
        sender: "alice",
        clientMessageId: "e",
        text: "after",
        emoji: "",
        sentAtMs: 3,
      });
      assert.strictEqual(edit.message.seq, 2n);
      const page = yield* store.readMessages("OLDOLD", { anchorSeq: 0n, direction: "forward", limit: 5 });
      assert.deepStrictEqual(
        page.messages.map((m) => [m.seq, m.text, m.editedAtMs]),
        [
          [1n, "after", 3],
          [2n, "after", 0],
        ],
      );
    }).pipe(Effect.scoped),
  );

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
        firsts
          .map((r) => Number(r.message.seq))
          .sort((a, b) => a - b)
          .filter((s, i, all) => all.indexOf(s) === i).length,
        n,
      );
      for (const [r, retry] of results) if (retry !== undefined) assert.strictEqual(retry.message.seq, r.message.seq);
      const page = yield* two.store.readMessages("SHARED", { anchorSeq: 0n, direction: "forward", limit: n + 10 });
      assert.deepStrictEqual(
        seqs(page),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      assert.strictEqual((yield* one.store.findRoom("SHARED"))?.lastSeq, BigInt(n));
      // Both nodes batched their appends.
      const [a, b] = [one.stats(), two.stats()];
      assert.isBelow(a.batches + b.batches, n);
      console.log(
        `two nodes: ${n} appends + ${n / 8} cross-node retries in ${a.batches + b.batches} commits, ${a.retries + b.retries} batches rerun after a race`,
      );
      // DMs of one conversation from both nodes share one gap-free sequence too.
      const dms = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) =>
          (i % 2 === 0 ? one : two).store.appendDirect({
            sender: i % 3 ? "Kim" : "lee",
            recipient: i % 3 ? "LEE" : "kim",
            clientMessageId: `d${i}`,
            text: "x",
            sentAtMs: i,
          }),
        { concurrency: "unbounded" },
      );
      assert.deepStrictEqual(
        dms.map((r) => Number(r.message.seq)).sort((a, b) => a - b),
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
    }).pipe(Effect.scoped),
  );

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
        return yield* sql<{
          migration_id: number;
          name: string;
        }>`SELECT migration_id, name FROM effect_sql_migrations ORDER BY migration_id`;
      }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) })));
      assert.deepStrictEqual(
        rows.map((r) => [r.migration_id, r.name]),
        [
          [1, "init"],
          [2, "message_actions"],
          [3, "files"],
        ],
      );
      assert.strictEqual((yield* stores[2]!.store.findRoom("MIGRAT"))?.code, "MIGRAT");
    }).pipe(Effect.scoped),
  );

  it.live("an unreachable database fails the start fast with StorageUnavailable", () =>
    Effect.gen(function* () {
      const started = Date.now();
      const error = yield* Effect.flip(makePostgresStore({ url: urlOf("protochat").replace(`:${pg.port}/`, ":1/") }));
      assert.strictEqual(error._tag, "StorageUnavailable");
      assert.isBelow(Date.now() - started, 5_000);
    }).pipe(Effect.scoped),
  );

  it.live(
    "PostgreSQL stopped for 5 s under appends: fail fast, nothing acked unstored, no duplicates, recovers",
    () =>
      Effect.gen(function* () {
        const url = yield* freshDatabase;
        const { store } = yield* makePostgresStore({ url, poolSize: 4, retryAfterMs: 200 });
        yield* store.createRoom(room("OUTAGE"));
        const acked = new Map<string, bigint>();
        const failures: Array<{ tag: string; ms: number; at: number }> = [];
        let sending = true;
        // A stream sends its messages one after another; a failed send is retried with the same client message id,
        // as the SDK does, until it is acked.
        const stream = (k: number) =>
          Effect.gen(function* () {
            for (let i = 0; sending; i++) {
              const cmid = `s${k}-${i}`;
              for (;;) {
                const started = Date.now();
                const result = yield* Effect.result(store.appendMessage(msg("OUTAGE", cmid, `user${k}`)));
                if (result._tag === "Success") {
                  acked.set(cmid, result.success.message.seq);
                  break;
                }
                failures.push({ tag: result.failure._tag, ms: Date.now() - started, at: Date.now() });
                yield* Effect.sleep(result.failure._tag === "StorageUnavailable" ? result.failure.retryAfterMs : 200);
              }
              yield* Effect.sleep(5);
            }
          });
        const streams = yield* Effect.forkChild(Effect.all([0, 1, 2, 3].map(stream), { concurrency: "unbounded", discard: true }));
        yield* Effect.sleep(1_000);
        const beforeOutage = acked.size;
        pg.stop();
        const stoppedAt = Date.now();
        const failuresBefore = failures.length;
        yield* Effect.sleep(5_000);
        const duringOutage = acked.size;
        pg.start();
        const startedAt = Date.now();
        yield* Effect.sleep(3_000);
        sending = false;
        yield* Fiber.join(streams);
        const afterOutage = acked.size;

        const lastFailure = Math.max(...failures.map((f) => f.at));
        console.log(
          `outage: ${beforeOutage} acked before, ${duringOutage - beforeOutage} during 5 s down, ${afterOutage - duringOutage} after; ` +
            `${failures.length} failed attempts (${[...new Set(failures.map((f) => f.tag))].join(", ")}), slowest failure ${Math.max(...failures.map((f) => f.ms))} ms; ` +
            `last failure ${Math.max(0, lastFailure - startedAt)} ms after the restart returned`,
        );
        assert.isAbove(beforeOutage, 10);
        assert.strictEqual(failuresBefore, 0);
        assert.isAbove(failures.length, 0);
        // Every failure is the retryable one, and came fast (not after the whole outage).
        assert.deepStrictEqual([...new Set(failures.map((f) => f.tag))], ["StorageUnavailable"]);
        assert.isBelow(Math.max(...failures.map((f) => f.ms)), 3_000);
        // Nothing was acked while the database was down: at most each stream's append that was in flight when the
        // (blocking) stop began, committed before the shutdown and answered after stop() returned.
        assert.isAtMost(duringOutage - beforeOutage, 4);
        assert.isAbove(lastFailure, stoppedAt);
        // Appends work again after the restart, without any help.
        assert.isAbove(afterOutage - duringOutage, 10);
        // Every acked message is stored at its acked seq, once; seqs are gap-free.
        const page = yield* store.readMessages("OUTAGE", { anchorSeq: 0n, direction: "forward", limit: 200 });
        let all = [...page.messages];
        while (all.length < acked.size + 1) {
          const more = yield* store.readMessages("OUTAGE", { anchorSeq: all[all.length - 1]!.seq, direction: "forward", limit: 200 });
          if (more.messages.length === 0) break;
          all = all.concat(more.messages);
        }
        assert.deepStrictEqual(
          seqs({ messages: all }),
          Array.from({ length: all.length }, (_, i) => i + 1),
        );
        const stored = new Map(all.map((m) => [m.clientMessageId, m.seq]));
        assert.strictEqual(stored.size, all.length, "a client message id stored twice");
        for (const [cmid, seq] of acked) assert.strictEqual(stored.get(cmid), seq, `acked ${cmid} not stored at its seq`);
        // At most the messages whose streams were cut off mid-retry are stored without an ack.
        assert.isAtMost(all.length - acked.size, 4);
      }).pipe(Effect.scoped),
    60_000,
  );

  it.live(
    "health turns unavailable while PostgreSQL is down and available again by itself, with no traffic",
    () =>
      Effect.gen(function* () {
        const url = yield* freshDatabase;
        const { health } = yield* makePostgresStore({ url, probeIntervalMs: 100, idleProbeMs: 300 });
        const waitFor = (tag: "Available" | "Unavailable") =>
          Effect.gen(function* () {
            const started = Date.now();
            while (health.status()._tag !== tag) {
              if (Date.now() - started > 10_000) return assert.fail(`health still ${health.status()._tag} after 10 s`);
              yield* Effect.sleep(50);
            }
            return Date.now() - started;
          });
        assert.strictEqual(health.status()._tag, "Available");
        pg.stop();
        const noticed = yield* waitFor("Unavailable");
        const status = health.status();
        // The reason is the database's or the socket's own message, never the URL's password.
        if (status._tag === "Unavailable") assert.notInclude(status.reason, new URL(url).password);
        pg.start();
        const recovered = yield* waitFor("Available");
        console.log(
          `health: unavailable noticed ${noticed} ms after the stop, available ${recovered} ms after the restart (${status._tag === "Unavailable" ? status.reason : ""})`,
        );
      }).pipe(Effect.scoped),
    30_000,
  );
});
