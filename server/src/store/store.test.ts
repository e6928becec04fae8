// The SQLite Store against a real file: seq assignment, idempotency, pages, DMs, rooms, sessions, persistence.
import { DatabaseSync } from "node:sqlite";
import { assert, describe, it } from "@effect/vitest";
import { Effect, Exit, Scope } from "effect";
import { makeSqliteStore, migrations, SqliteStore } from "./sqlite.ts";
import { Store, type PageQuery } from "./store.ts";

const room = (code: string, persistent = false, name = `room ${code}`) => ({
  code,
  name,
  persistent,
  createdBy: "alice",
  createdAtMs: 1_000,
});

const msg = (roomCode: string, clientMessageId: string, sender = "alice", text = `text ${clientMessageId}`) => ({
  roomCode,
  sender,
  clientMessageId,
  text,
  sentAtMs: 2_000,
});

const seqs = (page: { messages: ReadonlyArray<{ seq: bigint }> }) => page.messages.map((m) => Number(m.seq));

/** Opens a store on `file` in its own scope, runs `use`, then closes it (as a restart would). */
const withStoreAt = <A, E>(file: string, use: (store: Store["Service"]) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(makeSqliteStore({ file }), ({ store }) => use(store)));

describe("SqliteStore", () => {
  it.effect("assigns gap-free seqs from 1 under concurrent appends, one room each", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      const { store, stats } = yield* makeSqliteStore({ file });
      yield* store.createRoom(room("AAAAAA"));
      yield* store.createRoom(room("BBBBBB"));
      const results = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => msg(i % 2 === 0 ? "AAAAAA" : "BBBBBB", `m${i}`, `user${i % 7}`)),
        (m) => store.appendMessage(m),
        { concurrency: "unbounded" },
      );
      for (const code of ["AAAAAA", "BBBBBB"]) {
        const mine = results.filter((r) => r.message.roomCode === code).map((r) => Number(r.message.seq));
        assert.deepStrictEqual([...mine].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i + 1));
        const page = yield* store.readMessages(code, { anchorSeq: 0n, direction: "forward", limit: 200 });
        assert.deepStrictEqual(seqs(page), Array.from({ length: 100 }, (_, i) => i + 1));
        assert.strictEqual((yield* store.findRoom(code))?.lastSeq, 100n);
      }
      assert.isTrue(results.every((r) => !r.duplicate));
      // Concurrent callers share transactions (group commit): far fewer commits than appends.
      assert.isBelow(stats().batches, 20);
      assert.strictEqual(stats().appends, 200);
    }));

  it.effect("a retried append returns the original message as a duplicate and stores nothing", () =>
    Effect.gen(function* () {
      const store = yield* Store;
      yield* store.createRoom(room("CCCCCC"));
      const first = yield* store.appendMessage(msg("CCCCCC", "id-1", "alice", "hello"));
      yield* store.appendMessage(msg("CCCCCC", "id-2"));
      const retry = yield* store.appendMessage({ ...msg("CCCCCC", "id-1", "alice", "changed"), sentAtMs: 9_999 });
      assert.isFalse(first.duplicate);
      assert.isTrue(retry.duplicate);
      assert.deepStrictEqual(retry.message, first.message);
      assert.strictEqual(retry.message.text, "hello");
      // The same client id from another sender is a different message.
      const other = yield* store.appendMessage(msg("CCCCCC", "id-1", "bob"));
      assert.strictEqual(other.message.seq, 3n);
      assert.isFalse(other.duplicate);
      // Retries racing in one batch are still stored once.
      const racing = yield* Effect.all([1, 2, 3].map(() => store.appendMessage(msg("CCCCCC", "id-9"))), {
        concurrency: "unbounded",
      });
      assert.deepStrictEqual(
        racing.map((r) => [Number(r.message.seq), r.duplicate]),
        [
          [4, false],
          [4, true],
          [4, true],
        ],
      );
      const all = yield* store.readMessages("CCCCCC", { anchorSeq: 0n, direction: "forward", limit: 50 });
      assert.deepStrictEqual(seqs(all), [1, 2, 3, 4]);
    }).pipe(Effect.provide(SqliteStore.layerTemp)));

  it.effect("an append to an unknown room fails alone; its batch neighbours are stored", () =>
    Effect.gen(function* () {
      const store = yield* Store;
      yield* store.createRoom(room("DDDDDD"));
      const [good, bad, good2] = yield* Effect.all(
        [
          Effect.exit(store.appendMessage(msg("DDDDDD", "a"))),
          Effect.exit(store.appendMessage(msg("NOROOM", "b"))),
          Effect.exit(store.appendMessage(msg("DDDDDD", "c"))),
        ],
        { concurrency: "unbounded" },
      );
      assert.isTrue(Exit.isSuccess(good) && Exit.isSuccess(good2));
      assert.isTrue(Exit.isFailure(bad));
      if (Exit.isFailure(bad)) assert.include(String(bad.cause), "StoreError");
      const page = yield* store.readMessages("DDDDDD", { anchorSeq: 0n, direction: "forward", limit: 10 });
      assert.deepStrictEqual(seqs(page), [1, 2]);
    }).pipe(Effect.provide(SqliteStore.layerTemp)));

  it.effect("pages backward and forward around an anchor, ascending, with hasMore", () =>
    Effect.gen(function* () {
      const store = yield* Store;
      yield* store.createRoom(room("EEEEEE"));
      for (let i = 1; i <= 10; i++) yield* store.appendMessage(msg("EEEEEE", `m${i}`));
      const read = (q: PageQuery) => store.readMessages("EEEEEE", q);
      const newest = yield* read({ anchorSeq: 0n, direction: "backward", limit: 3 });
      assert.deepStrictEqual([seqs(newest), newest.hasMore], [[8, 9, 10], true]);
      const older = yield* read({ anchorSeq: 8n, direction: "backward", limit: 3 });
      assert.deepStrictEqual([seqs(older), older.hasMore], [[5, 6, 7], true]);
      const oldest = yield* read({ anchorSeq: 4n, direction: "backward", limit: 3 });
      assert.deepStrictEqual([seqs(oldest), oldest.hasMore], [[1, 2, 3], false]);
      const first = yield* read({ anchorSeq: 0n, direction: "forward", limit: 4 });
      assert.deepStrictEqual([seqs(first), first.hasMore], [[1, 2, 3, 4], true]);
      const last = yield* read({ anchorSeq: 6n, direction: "forward", limit: 4 });
      assert.deepStrictEqual([seqs(last), last.hasMore], [[7, 8, 9, 10], false]);
      const beyond = yield* read({ anchorSeq: 10n, direction: "forward", limit: 4 });
      assert.deepStrictEqual([seqs(beyond), beyond.hasMore], [[], false]);
      const empty = yield* store.readMessages("NOROOM", { anchorSeq: 0n, direction: "backward", limit: 5 });
      assert.deepStrictEqual([seqs(empty), empty.hasMore], [[], false]);
    }).pipe(Effect.provide(SqliteStore.layerTemp)));

  it.effect("a DM conversation is one sequence for both directions, whatever the case of the names", () =>
    Effect.gen(function* () {
      const store = yield* Store;
      const dm = (sender: string, recipient: string, clientMessageId: string) =>
        store.appendDirect({ sender, recipient, clientMessageId, text: `${sender}:${clientMessageId}`, sentAtMs: 5 });
      const a = yield* dm("Alice", "Bob", "1");
      const b = yield* dm("Bob", "Alice", "1"); // same client id, other sender: a new message
      const c = yield* dm("Alice", "Bob", "2");
      const retry = yield* dm("ALICE", "bob", "1"); // same sender (case-insensitively) and id: the original
      const other = yield* dm("Alice", "Carol", "1"); // another conversation starts at 1
      assert.deepStrictEqual([a, b, c].map((r) => Number(r.message.seq)), [1, 2, 3]);
      assert.deepStrictEqual([retry.duplicate, retry.message], [true, a.message]);
      assert.strictEqual(other.message.seq, 1n);
      const fromAlice = yield* store.readDirect("alice", "BOB", { anchorSeq: 0n, direction: "backward", limit: 10 });
      const fromBob = yield* store.readDirect("Bob", "Alice", { anchorSeq: 0n, direction: "backward", limit: 10 });
      assert.deepStrictEqual(fromAlice, fromBob);
      assert.deepStrictEqual(
        fromAlice.messages.map((m) => [m.sender, m.recipient, m.text]),
        [
          ["Alice", "Bob", "Alice:1"],
          ["Bob", "Alice", "Bob:1"],
          ["Alice", "Bob", "Alice:2"],
        ],
      );
      const page = yield* store.readDirect("bob", "alice", { anchorSeq: 1n, direction: "forward", limit: 1 });
      assert.deepStrictEqual([seqs(page), page.hasMore], [[2], true]);
    }).pipe(Effect.provide(SqliteStore.layerTemp)));

  it.effect("a room code is unique forever, destroyed rooms included; listing shows live persistent rooms by name", () =>
    Effect.gen(function* () {
      const store = yield* Store;
      yield* store.createRoom(room("FFFFFF"));
      yield* store.destroyRoom("FFFFFF", 7_000);
      const again = yield* Effect.flip(store.createRoom(room("FFFFFF", true)));
      assert.strictEqual(again._tag, "RoomCodeTaken");
      const destroyed = yield* store.findRoom("FFFFFF");
      assert.strictEqual(destroyed?.destroyedAtMs, 7_000);
      assert.strictEqual(yield* store.findRoom("ZZZZZZ"), undefined);
      yield* store.createRoom(room("P2P2P2", true, "random"));
      yield* store.createRoom(room("P3P3P3", true, "general"));
      yield* store.createRoom(room("P4P4P4", true, "zebra"));
      yield* store.destroyRoom("P4P4P4", 8_000);
      const listed = yield* store.listPersistentRooms(10);
      assert.deepStrictEqual(
        listed.map((r) => [r.name, r.code, r.persistent, r.destroyedAtMs]),
        [
          ["general", "P3P3P3", true, null],
          ["random", "P2P2P2", true, null],
        ],
      );
      assert.strictEqual((yield* store.listPersistentRooms(1)).length, 1);
      yield* store.createRoom(room("T2T2T2"));
      assert.deepStrictEqual((yield* store.listTemporaryRooms(10)).map((r) => r.code), ["T2T2T2"]);
      assert.strictEqual(yield* store.countPersistentRooms(room("X", true).createdBy), 2);
    }).pipe(Effect.provide(SqliteStore.layerTemp)));

  it.effect("users are unique by key; sessions are found until revoked", () =>
    Effect.gen(function* () {
      const store = yield* Store;
      const user = yield* store.createUser({ username: "Ann", usernameKey: "ann", passwordHash: "$h", createdAtMs: 1 });
      const taken = yield* Effect.flip(
        store.createUser({ username: "ANN", usernameKey: "ann", passwordHash: "$h", createdAtMs: 2 }),
      );
      assert.strictEqual(taken._tag, "UsernameTaken");
      assert.deepStrictEqual(yield* store.findUser("ann"), user);
      assert.strictEqual(yield* store.findUser("nobody"), undefined);
      const session = { tokenHash: "ab".repeat(32), userId: user.id, username: "Ann", createdAtMs: 10, expiresAtMs: 20 };
      yield* store.createSession(session);
      yield* store.createSession({ ...session, tokenHash: "cd".repeat(32) });
      assert.deepStrictEqual(yield* store.findSession(session.tokenHash), session);
      yield* store.revokeSession(session.tokenHash);
      assert.strictEqual(yield* store.findSession(session.tokenHash), undefined);
      assert.isDefined(yield* store.findSession("cd".repeat(32)));
    }).pipe(Effect.provide(SqliteStore.layerTemp)));

  it.effect("reopening the file keeps everything, and the migrations ran once", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      yield* withStoreAt(file, (store) =>
        Effect.gen(function* () {
          const user = yield* store.createUser({ username: "Bo", usernameKey: "bo", passwordHash: "$h", createdAtMs: 1 });
          yield* store.createSession({ tokenHash: "t", userId: user.id, username: "Bo", createdAtMs: 1, expiresAtMs: 2 });
          yield* store.createRoom(room("GGGGGG"));
          yield* store.appendMessage(msg("GGGGGG", "1"));
          yield* store.appendMessage(msg("GGGGGG", "2"));
          yield* store.appendDirect({ sender: "Bo", recipient: "Cy", clientMessageId: "x", text: "hi", sentAtMs: 3 });
        }),
      );
      yield* withStoreAt(file, (store) =>
        Effect.gen(function* () {
          assert.strictEqual((yield* store.findUser("bo"))?.username, "Bo");
          assert.strictEqual((yield* store.findSession("t"))?.username, "Bo");
          assert.strictEqual((yield* store.findRoom("GGGGGG"))?.lastSeq, 2n);
          const next = yield* store.appendMessage(msg("GGGGGG", "3"));
          assert.strictEqual(next.message.seq, 3n);
          const retry = yield* store.appendMessage(msg("GGGGGG", "1"));
          assert.deepStrictEqual([retry.duplicate, retry.message.seq], [true, 1n]);
          const dms = yield* store.readDirect("cy", "bo", { anchorSeq: 0n, direction: "backward", limit: 5 });
          assert.deepStrictEqual(dms.messages.map((m) => m.text), ["hi"]);
        }),
      );
      const db = new DatabaseSync(file);
      const version = db.prepare("PRAGMA user_version").get() as { user_version: number };
      const mode = db.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
      db.close();
      assert.strictEqual(version.user_version, migrations.length);
      assert.strictEqual(mode.journal_mode, "wal");
      assert.strictEqual(tables.n, 6);
    }));

  it.effect("appends after the store closed fail instead of hanging", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      const scope = yield* Scope.make();
      const { store } = yield* Scope.provide(makeSqliteStore({ file }), scope);
      yield* store.createRoom(room("HHHHHH"));
      yield* Scope.close(scope, Exit.void);
      const error = yield* Effect.flip(store.appendMessage(msg("HHHHHH", "late")));
      assert.strictEqual(error._tag, "StoreError");
    }));
});
