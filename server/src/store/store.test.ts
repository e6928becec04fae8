// The SQLite Store against a real file: the shared Store contract (store.contract.ts), then what is SQLite's own
// (WAL mode, the schema version in user_version).
import { DatabaseSync } from "node:sqlite";
import { assert, describe, it } from "@effect/vitest";
import { Effect } from "effect";
import { makeSqliteStore, migrations, SqliteStore } from "./sqlite.ts";
import { msg, room, storeContract } from "./store.contract.ts";

storeContract("SQLite", () => ({ location: SqliteStore.tempFile, open: (file) => makeSqliteStore({ file }) }));

describe("SqliteStore", () => {
  it.effect("the file is in WAL mode and holds the schema version after a reopen", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      for (const id of ["1", "2"]) {
        yield* Effect.scoped(
          Effect.gen(function* () {
            const { store } = yield* makeSqliteStore({ file });
            if (id === "1") yield* store.createRoom(room("GGGGGG"));
            yield* store.appendMessage(msg("GGGGGG", id));
          }),
        );
      }
      const db = new DatabaseSync(file);
      const version = db.prepare("PRAGMA user_version").get() as { user_version: number };
      const mode = db.prepare("PRAGMA journal_mode").get() as { journal_mode: string };
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as { n: number };
      const last = db.prepare("SELECT last_seq FROM rooms WHERE code = 'GGGGGG'").get() as { last_seq: number };
      db.close();
      assert.strictEqual(version.user_version, migrations.length);
      assert.strictEqual(mode.journal_mode, "wal");
      assert.strictEqual(tables.n, 8);
      assert.strictEqual(last.last_seq, 2);
    }),
  );

  it.effect("upgrades a database made before message actions in place: old messages read as plain and take actions", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      const old = new DatabaseSync(file);
      old.exec(migrations[0]!);
      old.exec("PRAGMA user_version = 1");
      old.exec(
        "INSERT INTO rooms (code, name, persistent, created_by, created_at_ms, last_seq) VALUES ('OLDOLD', 'old', 1, 'alice', 1, 1)",
      );
      old.exec(
        "INSERT INTO messages (room_code, seq, sender, sent_at_ms, text, client_message_id) VALUES ('OLDOLD', 1, 'alice', 2, 'before', 'c1')",
      );
      old.close();
      yield* Effect.scoped(
        Effect.gen(function* () {
          const { store } = yield* makeSqliteStore({ file });
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
        }),
      );
    }),
  );
});
