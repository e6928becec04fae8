// The SQLite Store on a real full disk (a small tmpfs): every write fails with StorageUnavailable and stores
// nothing, reads keep working, health reports it and recovers by itself once space frees, seqs stay gap-free,
// and the store does not open when the disk cannot take a commit.
import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { assert, describe, it } from "@effect/vitest";
import { Effect, Exit, Scope } from "effect";
import { mountSmallDisk, smallDiskProblem, type SmallDisk } from "../../test/small-disk.ts";
import { classifySqliteFailure, makeSqliteStore } from "./sqlite.ts";
import type { StorageHealth } from "./store.ts";

const sqliteError = (errcode: number) => Object.assign(new Error("sqlite says no"), { code: "ERR_SQLITE_ERROR", errcode });

const withDisk = <A, E>(sizeKiB: number, use: (disk: SmallDisk) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.scoped(
    Effect.acquireRelease(
      Effect.sync(() => mountSmallDisk(sizeKiB)),
      (disk) => Effect.sync(() => disk.unmount()),
    ).pipe(Effect.flatMap(use)),
  );

const waitFor = (health: StorageHealth["Service"], tag: "Available" | "Unavailable", timeoutMs: number) =>
  Effect.gen(function* () {
    const deadline = Date.now() + timeoutMs;
    while (health.status()._tag !== tag) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`storage never became ${tag}`));
      yield* Effect.sleep(20);
    }
  });

describe("classifySqliteFailure", () => {
  it("maps busy, locked, full, I/O and read-only to StorageUnavailable; constraints and the rest to StoreError", () => {
    const busy = classifySqliteFailure("op", sqliteError(5));
    assert.strictEqual(busy._tag, "StorageUnavailable");
    if (busy._tag === "StorageUnavailable") assert.isBelow(busy.retryAfterMs, 1000);
    for (const code of [13, 10, 4874 /* SQLITE_IOERR_SHMSIZE */, 8, 6, 261 /* SQLITE_BUSY_RECOVERY */]) {
      const error = classifySqliteFailure("op", sqliteError(code));
      assert.strictEqual(error._tag, "StorageUnavailable", `code ${code}`);
      if (error._tag === "StorageUnavailable") assert.isAbove(error.retryAfterMs, 0);
    }
    for (const code of [2067 /* UNIQUE */, 787 /* FOREIGN KEY */, 11 /* CORRUPT */, 1]) {
      assert.strictEqual(classifySqliteFailure("op", sqliteError(code))._tag, "StoreError", `code ${code}`);
    }
    assert.strictEqual(classifySqliteFailure("op", new Error("no such room"))._tag, "StoreError");
  });
});

describe.skipIf(smallDiskProblem !== undefined)("SqliteStore on a full disk", () => {
  it.live("fails every write with StorageUnavailable, stores nothing, and recovers gap-free once space frees", () =>
    withDisk(2048, (disk) =>
      Effect.gen(function* () {
        const file = join(disk.dir, "chat.db");
        const scope = yield* Scope.make();
        const { store, health } = yield* Scope.provide(makeSqliteStore({ file, probeIntervalMs: 50, idleProbeMs: 60_000 }), scope);
        const ann = yield* store.createUser({ username: "ann", usernameKey: "ann", passwordHash: "$h", createdAtMs: 1 });
        yield* store.createSession({ tokenHash: "ann-1", userId: ann.id, username: "ann", createdAtMs: 1, expiresAtMs: 9e12 });
        yield* store.createRoom({ code: "DISK01", name: "disk", persistent: true, createdBy: "ann", createdAtMs: 1 });
        for (const id of ["a", "b", "c"])
          yield* store.appendMessage({ roomCode: "DISK01", sender: "ann", clientMessageId: id, text: id, sentAtMs: 1 });
        yield* store.appendDirect({ sender: "ann", recipient: "bob", clientMessageId: "d1", text: "hi", sentAtMs: 1 });

        disk.fill();
        assert.strictEqual(disk.freeBytes(), 0);
        const unavailable = <A, E extends { _tag: string }>(effect: Effect.Effect<A, E>) =>
          Effect.map(Effect.flip(effect), (error) => error._tag);
        // Before the fix, createUser and createRoom "succeeded" here: the row came back, the commit failed.
        assert.strictEqual(
          yield* unavailable(store.createUser({ username: "bob", usernameKey: "bob", passwordHash: "$h", createdAtMs: 2 })),
          "StorageUnavailable",
        );
        assert.strictEqual(
          yield* unavailable(store.createRoom({ code: "GHOST1", name: "ghost", persistent: true, createdBy: "ann", createdAtMs: 2 })),
          "StorageUnavailable",
        );
        assert.strictEqual(
          yield* unavailable(
            store.createSession({ tokenHash: "ann-2", userId: ann.id, username: "ann", createdAtMs: 2, expiresAtMs: 9e12 }),
          ),
          "StorageUnavailable",
        );
        assert.strictEqual(yield* unavailable(store.revokeSession("ann-1")), "StorageUnavailable");
        assert.strictEqual(yield* unavailable(store.destroyRoom("DISK01", 2)), "StorageUnavailable");
        assert.strictEqual(
          yield* unavailable(store.appendDirect({ sender: "ann", recipient: "bob", clientMessageId: "d2", text: "x", sentAtMs: 2 })),
          "StorageUnavailable",
        );
        // Fifty concurrent appends share group commits: every one of them fails, none is acked.
        const sends = yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => `full-${i}`),
          (id) =>
            Effect.exit(
              store.appendMessage({ roomCode: "DISK01", sender: "ann", clientMessageId: id, text: "x".repeat(500), sentAtMs: 2 }),
            ),
          { concurrency: "unbounded" },
        );
        const tags = sends.map((exit) =>
          Exit.isSuccess(exit) ? "acked" : String(exit.cause).includes("StorageUnavailable") ? "unavailable" : String(exit.cause),
        );
        assert.deepStrictEqual([...new Set(tags)], ["unavailable"]);
        const status = health.status();
        assert.strictEqual(status._tag, "Unavailable");
        if (status._tag === "Unavailable") assert.match(status.reason, /SQLITE_FULL|SQLITE_IOERR/);

        // Reads still answer, and show nothing of the failed writes.
        assert.isUndefined(yield* store.findUser("bob"));
        assert.isUndefined(yield* store.findRoom("GHOST1"));
        assert.strictEqual((yield* store.findRoom("DISK01"))?.lastSeq, 3n);
        assert.strictEqual((yield* store.findSession("ann-1"))?.username, "ann");

        // Health stays Unavailable while the probe keeps failing, and returns by itself once space frees.
        yield* Effect.sleep(200);
        assert.strictEqual(health.status()._tag, "Unavailable");
        disk.free();
        yield* waitFor(health, "Available", 3000);
        const next = yield* store.appendMessage({
          roomCode: "DISK01",
          sender: "ann",
          clientMessageId: "full-0",
          text: "retried",
          sentAtMs: 3,
        });
        assert.deepStrictEqual([next.message.seq, next.duplicate], [4n, false]);
        const dm = yield* store.appendDirect({ sender: "ann", recipient: "bob", clientMessageId: "d2", text: "x", sentAtMs: 3 });
        assert.strictEqual(dm.message.seq, 2n);
        yield* store.createUser({ username: "bob", usernameKey: "bob", passwordHash: "$h", createdAtMs: 3 });
        yield* Scope.close(scope, Exit.void);

        // After a restart: exactly what was acknowledged, nothing else, and an intact file.
        const db = new DatabaseSync(file);
        const count = (sqlText: string) => Number((db.prepare(sqlText).get() as { n: number }).n);
        const integrity = (db.prepare("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check;
        const rooms = db
          .prepare("SELECT code FROM rooms ORDER BY code")
          .all()
          .map((r) => r.code);
        const seqs = db
          .prepare("SELECT seq FROM messages WHERE room_code = 'DISK01' ORDER BY seq")
          .all()
          .map((r) => Number(r.seq));
        const users = count("SELECT count(*) AS n FROM users");
        const sessions = count("SELECT count(*) AS n FROM sessions");
        db.close();
        assert.strictEqual(integrity, "ok");
        assert.deepStrictEqual(rooms, ["DISK01"]);
        assert.deepStrictEqual(seqs, [1, 2, 3, 4]);
        assert.strictEqual(users, 2);
        assert.strictEqual(sessions, 1);
        console.log(`store on a full disk: 56 writes attempted, 0 reported stored, 0 stored; recovered by the probe, next seq 4`);
      }),
    ),
  );

  it.live("does not open on a full disk: StorageUnavailable with a one-line reason; opens once space frees", () =>
    withDisk(1024, (disk) =>
      Effect.gen(function* () {
        const file = join(disk.dir, "chat.db");
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { store } = yield* makeSqliteStore({ file });
            yield* store.createRoom({ code: "KEEP01", name: "keep", persistent: true, createdBy: "ann", createdAtMs: 1 });
          }),
        );
        disk.fill();
        const error = yield* Effect.flip(Effect.scoped(makeSqliteStore({ file })));
        assert.strictEqual(error._tag, "StorageUnavailable");
        const message = (error.cause as Error).message;
        assert.notInclude(message, "\n");
        assert.include(message, file);
        assert.include(message, "0 KiB free");
        disk.free();
        const room = yield* Effect.scoped(Effect.flatMap(makeSqliteStore({ file }), ({ store }) => store.findRoom("KEEP01")));
        assert.strictEqual(room?.name, "keep");
      }),
    ),
  );
});
