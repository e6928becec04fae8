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
      assert.strictEqual(tables.n, 6);
      assert.strictEqual(last.last_seq, 2);
    }));
});
