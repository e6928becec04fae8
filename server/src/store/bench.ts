// Append throughput of the SQLite store, one append at a time (one commit and fsync each) against concurrent
// appends that share group commits. Run: node_modules/.bin/node server/src/store/bench.ts [count] [concurrency]
import { Effect } from "effect";
import { makeSqliteStore, SqliteStore } from "./sqlite.ts";

const count = Number(process.argv[2] ?? 2_000);
const concurrency = Number(process.argv[3] ?? 256);

const message = (i: number) => ({
  roomCode: "BENCH2",
  sender: `user${i % 50}`,
  clientMessageId: `m-${i}`,
  text: "x".repeat(80),
  sentAtMs: Date.now(),
});

const run = (label: string, parallel: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      const { store, stats } = yield* makeSqliteStore({ file });
      yield* store.createRoom({ code: "BENCH2", name: "bench", persistent: false, createdBy: "bench", createdAtMs: 0 });
      const start = performance.now();
      yield* Effect.forEach(Array.from({ length: count }, (_, i) => i), (i) => store.appendMessage(message(i)), {
        concurrency: parallel,
        discard: true,
      });
      const seconds = (performance.now() - start) / 1000;
      const s = stats();
      const line = `${label.padEnd(30)} ${String(Math.round(count / seconds)).padStart(8)} appends/s  (${s.batches} commits, ${(s.appends / s.batches).toFixed(1)} per commit, largest ${s.largestBatch})`;
      console.log(line);
      return count / seconds;
    }),
  );

const program = Effect.gen(function* () {
  console.log(`SQLite store, WAL + synchronous=FULL, ${count} appends of 80 bytes, temp dir on ${process.env.TMPDIR ?? "/tmp"}`);
  const single = yield* run("one at a time", 1);
  const batched = yield* run(`${concurrency} concurrent (group commit)`, concurrency);
  console.log(`group commit speed-up: ${(batched / single).toFixed(1)}x`);
});

Effect.runPromise(program).catch((error) => {
  console.error(error);
  process.exit(1);
});
