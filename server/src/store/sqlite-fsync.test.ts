// The SQLite store's commit-then-fsync-off-the-loop design (sqlite.ts makeSqliteStore): nobody is answered before
// the WAL flush that covers their commit, a large commit's fsync does not stall the event loop, commits group,
// a failed flush fails its callers and keeps the store Unavailable, and closing answers what was asked.
import { fdatasync } from "node:fs";
import { assert, describe, it } from "@effect/vitest";
import { Cause, Effect, Exit, Fiber, Scope } from "effect";
import { openSqliteEngine } from "./sqlite-engine.ts";
import { makeSqliteStore, SqliteStore, type WalSync } from "./sqlite.ts";
import { msg, room } from "./store.contract.ts";

/** A WAL flush the test completes by hand: each call waits in `waiting` until released. */
const heldFlush = () => {
  const waiting: Array<() => void> = [];
  let calls = 0;
  const walSync: WalSync = (fd, done) => {
    calls++;
    waiting.push(() => fdatasync(fd, done));
  };
  return { walSync, waiting, calls: () => calls };
};

const tagOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? (Cause.squash(exit.cause) as { _tag?: string })._tag : "Success";

describe("SqliteStore: commit on the main thread, WAL fdatasync on the thread pool", () => {
  it.live("no caller is answered (ack or read) before the flush that started after its commit", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const flush = heldFlush();
        const { store } = yield* makeSqliteStore({ file: yield* SqliteStore.tempFile, walSync: flush.walSync });
        const created = yield* Effect.forkChild(store.createRoom(room("HELDUP")));
        yield* Effect.sleep(20);
        assert.isUndefined(created.pollUnsafe(), "createRoom answered before its commit was flushed");
        assert.strictEqual(flush.waiting.length, 1);
        flush.waiting.shift()!();
        yield* Fiber.join(created);

        const append = yield* Effect.forkChild(store.appendMessage(msg("HELDUP", "m1")));
        yield* Effect.sleep(20);
        // A read that runs after the commit waits for its flush too: nobody sees m1 before its sender's ack.
        const read = yield* Effect.forkChild(store.readMessages("HELDUP", { anchorSeq: 0n, direction: "forward", limit: 10 }));
        yield* Effect.sleep(20);
        assert.isUndefined(append.pollUnsafe(), "append acked before its commit was flushed");
        assert.isUndefined(read.pollUnsafe(), "a read saw a commit that was not flushed yet");
        assert.strictEqual(flush.waiting.length, 1, "one flush in flight at a time");
        flush.waiting.shift()!();
        assert.strictEqual((yield* Fiber.join(append)).message.seq, 1n);
        assert.deepStrictEqual(
          (yield* Fiber.join(read)).messages.map((m) => m.clientMessageId),
          ["m1"],
        );
        // Nothing pending: a read is answered without a flush.
        const before = flush.calls();
        assert.strictEqual((yield* store.findRoom("HELDUP"))?.lastSeq, 1n);
        assert.strictEqual(flush.calls(), before);
      }),
    ),
  );

  it.live("commits made during a flush share the next one (group fsync), answered in commit order", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const flush = heldFlush();
        const { store, stats } = yield* makeSqliteStore({ file: yield* SqliteStore.tempFile, walSync: flush.walSync });
        const created = yield* Effect.forkChild(store.createRoom(room("GROUPS")));
        yield* Effect.sleep(10);
        flush.waiting.shift()!();
        yield* Fiber.join(created);
        const order: Array<bigint> = [];
        const first = yield* Effect.forkChild(
          Effect.tap(store.appendMessage(msg("GROUPS", "first")), (a) => Effect.sync(() => order.push(a.message.seq))),
        );
        yield* Effect.sleep(10);
        // Three more ticks of appends commit while the first flush is held; one refused action among them.
        const later = yield* Effect.forkChild(
          Effect.forEach(
            [1, 2, 3],
            (tick) =>
              Effect.andThen(
                Effect.sleep(5),
                Effect.forEach(
                  Array.from({ length: 10 }, (_, i) => i),
                  (i) =>
                    Effect.exit(
                      Effect.tap(store.appendMessage(msg("GROUPS", `t${tick}-${i}`)), (a) => Effect.sync(() => order.push(a.message.seq))),
                    ),
                  { concurrency: "unbounded" },
                ),
              ),
            { concurrency: "unbounded" },
          ),
        );
        const refused = yield* Effect.forkChild(
          Effect.flip(
            store.appendRoomAction({
              roomCode: "GROUPS",
              kind: "edit",
              targetSeq: 999n,
              sender: "alice",
              clientMessageId: "edit-nothing",
              text: "x",
              emoji: "",
              sentAtMs: 1,
            }),
          ),
        );
        yield* Effect.sleep(40);
        assert.isAtLeast(stats().batches, 2, "appends kept committing while the flush ran");
        assert.strictEqual(flush.waiting.length, 1);
        flush.waiting.shift()!(); // covers only "first"
        yield* Effect.sleep(10);
        assert.strictEqual(flush.waiting.length, 1, "the commits made meanwhile wait for one more flush");
        flush.waiting.shift()!();
        const exits = (yield* Fiber.join(later)).flat();
        assert.deepStrictEqual([...new Set(exits.map(tagOf))], ["Success"]);
        yield* Fiber.join(first);
        assert.strictEqual((yield* Fiber.join(refused))._tag, "NotFound");
        assert.deepStrictEqual(
          order,
          Array.from({ length: 31 }, (_, i) => BigInt(i + 1)),
        );
        assert.strictEqual(flush.calls(), 3);
      }),
    ),
  );

  it.live("a large commit on a slow disk: the loop runs while the flush takes its time, acks wait for it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const file = yield* SqliteStore.tempFile;
        // The real fdatasync, then 200 ms more: a disk at its worst (this VM's fsync max is about 40 ms).
        const slowMs = 200;
        const walSync: WalSync = (fd, done) => fdatasync(fd, (error) => setTimeout(() => done(error), slowMs));
        const { store, stats } = yield* makeSqliteStore({ file, maxBatch: 4096, walSync });
        yield* store.createRoom(room("BIGBIG"));
        // 400 appends of 32 KiB in one transaction: about 13 MiB of WAL written by one COMMIT, then one fdatasync.
        const text = "x".repeat(32_768);
        let last = performance.now();
        let maxGapMs = 0;
        const ticker = setInterval(() => {
          const now = performance.now();
          maxGapMs = Math.max(maxGapMs, now - last);
          last = now;
        }, 1);
        const start = performance.now();
        let syncMs = 0;
        const acked = yield* Effect.forEach(
          Array.from({ length: 400 }, (_, i) => i),
          (i) => store.appendMessage(msg("BIGBIG", `big-${i}`, "alice", text)),
          { concurrency: "unbounded" },
        ).pipe(Effect.ensuring(Effect.sync(() => clearInterval(ticker))));
        const end = performance.now();
        maxGapMs = Math.max(maxGapMs, end - last);
        syncMs = end - start;
        assert.deepStrictEqual(
          acked.map((a) => Number(a.message.seq)),
          acked.map((_, i) => i + 1),
        );
        assert.isAtMost(stats().batches, 3);
        console.log(
          `400 appends of 32 KiB in ${stats().batches} commit(s): ${syncMs.toFixed(0)} ms; longest event-loop stall ${maxGapMs.toFixed(1)} ms`,
        );
        // Nobody was acked before the flush; the loop paid only for the statements and write(2) into the page
        // cache (on the main thread with synchronous=FULL it also waited for the whole fsync).
        assert.isAtLeast(syncMs, slowMs);
        assert.isBelow(maxGapMs, syncMs / 2);
      }),
    ),
  );

  it.live("a failed flush fails every caller it covered and keeps the store Unavailable until restart", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      let fail = false;
      const walSync: WalSync = (fd, done) =>
        fail ? setImmediate(() => done(Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" }))) : fdatasync(fd, done);
      const scope = yield* Scope.make();
      const { store, health } = yield* Scope.provide(makeSqliteStore({ file, walSync, probeIntervalMs: 20 }), scope);
      yield* store.createRoom(room("FAILED"));
      yield* store.appendMessage(msg("FAILED", "kept"));
      fail = true;
      const exits = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.exit(store.appendMessage(msg("FAILED", `lost-${i}`))),
        { concurrency: "unbounded" },
      );
      assert.deepStrictEqual([...new Set(exits.map(tagOf))], ["StorageUnavailable"]);
      // Reads and writes alike fail from now on, even once the disk flushes again: no later fsync vouches for
      // pages a failed one may have dropped.
      fail = false;
      yield* Effect.sleep(60);
      assert.strictEqual((yield* Effect.flip(store.findRoom("FAILED")))._tag, "StorageUnavailable");
      assert.strictEqual((yield* Effect.flip(store.appendMessage(msg("FAILED", "after"))))._tag, "StorageUnavailable");
      const status = health.status();
      assert.strictEqual(status._tag, "Unavailable");
      if (status._tag === "Unavailable") assert.include(status.reason, "fdatasync");
      yield* Scope.close(scope, Exit.void);
      // After a restart the store serves again; the acked message is there.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const { store: reopened, health: again } = yield* makeSqliteStore({ file });
          assert.strictEqual(again.status()._tag, "Available");
          const page = yield* reopened.readMessages("FAILED", { anchorSeq: 0n, direction: "forward", limit: 100 });
          assert.strictEqual(page.messages[0]?.clientMessageId, "kept");
        }),
      );
    }).pipe(Effect.scoped),
  );

  it.live("closing answers what was asked before it (after its flush); later calls fail; nothing hangs", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      const scope = yield* Scope.make();
      const { store } = yield* Scope.provide(makeSqliteStore({ file }), scope);
      yield* store.createRoom(room("CLOSED"));
      const sends = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 100 }, (_, i) => i),
          (i) => Effect.exit(store.appendMessage(msg("CLOSED", `x-${i}`))),
          { concurrency: "unbounded" },
        ),
      );
      yield* Effect.yieldNow;
      yield* Scope.close(scope, Exit.void);
      const exits = yield* Fiber.join(sends).pipe(
        Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.die(new Error("a caller hangs")) }),
      );
      for (const exit of exits) if (Exit.isFailure(exit)) assert.strictEqual(tagOf(exit), "StoreError");
      assert.strictEqual((yield* Effect.flip(store.findRoom("CLOSED")))._tag, "StoreError");
      // Every ack given is in the file.
      const acked = exits.filter(Exit.isSuccess).map((exit) => exit.value.message.clientMessageId);
      yield* Effect.scoped(
        Effect.gen(function* () {
          const { store: reopened } = yield* makeSqliteStore({ file });
          const page = yield* reopened.readMessages("CLOSED", { anchorSeq: 0n, direction: "forward", limit: 1000 });
          const stored = new Set(page.messages.map((m) => m.clientMessageId));
          for (const id of acked) assert.isTrue(stored.has(id), id);
        }),
      );
    }).pipe(Effect.scoped),
  );

  it.live("a :memory: database needs no flush", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const { store } = yield* makeSqliteStore({ file: ":memory:" });
        yield* store.createRoom(room("MEMORY"));
        yield* store.appendMessage(msg("MEMORY", "m1"));
        assert.strictEqual((yield* store.findRoom("MEMORY"))?.lastSeq, 1n);
      }),
    ),
  );
});

describe("SqliteEngine (in-thread)", () => {
  it("a batch writes good appends and fails only the bad one; results and failures are plain data", () => {
    const opened = openSqliteEngine({ file: ":memory:" });
    if (!("engine" in opened)) return assert.fail(JSON.stringify(opened.error));
    const { engine } = opened;
    try {
      assert.deepStrictEqual(engine.call("createRoom", [room("ENGINE")]), {
        ok: true,
        value: { ...room("ENGINE"), destroyedAtMs: null, lastSeq: 0n },
      });
      const [first, unknown, second] = engine.runBatch([
        { kind: "message", input: msg("ENGINE", "a") },
        { kind: "message", input: msg("NOROOM", "b") },
        { kind: "message", input: msg("ENGINE", "c") },
      ]);
      // A fresh append is answered with its seq alone; the caller rebuilds the event from its input.
      assert.deepStrictEqual(
        [first, second],
        [
          { ok: true, value: 1 },
          { ok: true, value: 2 },
        ],
      );
      assert.deepStrictEqual(unknown?.ok === false && unknown.error._tag, "StoreError");
      assert.deepStrictEqual(engine.call("createRoom", [room("ENGINE")]), { ok: false, error: { _tag: "RoomCodeTaken" } });
      assert.deepStrictEqual(engine.stats(), { batches: 1, appends: 3, largestBatch: 3 });
      assert.strictEqual(engine.commits(), 2);
      assert.deepStrictEqual(engine.status(), { _tag: "Available" });
    } finally {
      engine.close();
    }
  });
});
