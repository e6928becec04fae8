// The PostgreSQL schema as numbered migrations, applied at start by effect's Migrator (table
// `effect_sql_migrations`, locked while they run, so nodes starting together apply each one exactly once).
import { Effect } from "effect";
import * as Migrator from "effect/sql/Migrator";
import { SqlClient } from "effect/sql/SqlClient";

/**
 * Append only: never edit or renumber a released migration; add `2_…` instead. Each one runs inside the
 * Migrator's transaction together with its row in `effect_sql_migrations`.
 *
 * Text keys are `COLLATE "C"` (byte order, as SQLite compares) so listings sort the same on both stores
 * whatever the database's locale. Times are milliseconds since the epoch (bigint), seqs are bigint.
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient>> = {
  "1_init": Effect.gen(function* () {
    const sql = yield* SqlClient;
    yield* sql`CREATE TABLE users (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      username text NOT NULL,
      username_key text COLLATE "C" NOT NULL,
      password_hash text NOT NULL,
      created_at_ms bigint NOT NULL,
      CONSTRAINT users_username_key UNIQUE (username_key)
    )`;
    yield* sql`CREATE TABLE sessions (
      token_hash text COLLATE "C" PRIMARY KEY,
      user_id bigint NOT NULL REFERENCES users (id),
      created_at_ms bigint NOT NULL,
      expires_at_ms bigint NOT NULL
    )`;
    yield* sql`CREATE INDEX sessions_by_user ON sessions (user_id, expires_at_ms)`;
    // last_seq is the room's seq counter: an append increments it in its own transaction (the row lock
    // serialises appends to one room across every node), so seqs are gap-free from 1.
    yield* sql`CREATE TABLE rooms (
      code text COLLATE "C" PRIMARY KEY,
      name text COLLATE "C" NOT NULL,
      persistent boolean NOT NULL,
      created_by text COLLATE "C" NOT NULL,
      created_at_ms bigint NOT NULL,
      destroyed_at_ms bigint,
      last_seq bigint NOT NULL DEFAULT 0
    )`;
    yield* sql`CREATE INDEX rooms_persistent_by_name ON rooms (name, code) WHERE persistent AND destroyed_at_ms IS NULL`;
    yield* sql`CREATE INDEX rooms_persistent_by_creator ON rooms (created_by) WHERE persistent AND destroyed_at_ms IS NULL`;
    yield* sql`CREATE INDEX rooms_temporary_live ON rooms (code) WHERE NOT persistent AND destroyed_at_ms IS NULL`;
    yield* sql`CREATE TABLE messages (
      room_code text COLLATE "C" NOT NULL REFERENCES rooms (code),
      seq bigint NOT NULL,
      sender text COLLATE "C" NOT NULL,
      sent_at_ms bigint NOT NULL,
      text text NOT NULL,
      client_message_id text COLLATE "C" NOT NULL,
      PRIMARY KEY (room_code, seq),
      CONSTRAINT messages_idempotency UNIQUE (room_code, sender, client_message_id)
    )`;
    // One row the readiness probe rewrites: a real commit (a WAL flush) that carries no chat data.
    yield* sql`CREATE TABLE store_probe (id integer PRIMARY KEY CHECK (id = 1), probed_at_ms bigint NOT NULL)`;
    yield* sql`INSERT INTO store_probe (id, probed_at_ms) VALUES (1, 0)`;
    // A direct-message conversation: the unordered pair of username keys, user_a <= user_b.
    yield* sql`CREATE TABLE conversations (
      user_a text COLLATE "C" NOT NULL,
      user_b text COLLATE "C" NOT NULL,
      last_seq bigint NOT NULL,
      PRIMARY KEY (user_a, user_b)
    )`;
    yield* sql`CREATE TABLE direct_messages (
      user_a text COLLATE "C" NOT NULL,
      user_b text COLLATE "C" NOT NULL,
      seq bigint NOT NULL,
      sender text NOT NULL,
      sender_key text COLLATE "C" NOT NULL,
      recipient text NOT NULL,
      sent_at_ms bigint NOT NULL,
      text text NOT NULL,
      client_message_id text COLLATE "C" NOT NULL,
      PRIMARY KEY (user_a, user_b, seq),
      FOREIGN KEY (user_a, user_b) REFERENCES conversations (user_a, user_b),
      CONSTRAINT direct_messages_idempotency UNIQUE (user_a, user_b, sender_key, client_message_id)
    )`;
  }),
  // Message actions and replies: columns with constant defaults (no table rewrite; existing messages read as
  // plain, unedited, without reactions) and the reaction tables. kind: 0 plain message, else the wire's
  // ActionKind number; target_seq: the replied-to seq (kind 0) or the action's target; the state columns
  // (edited_at_ms, deleted, state_seq) are kept current on the target row by the action's transaction.
  "2_message_actions": Effect.gen(function* () {
    const sql = yield* SqlClient;
    for (const table of ["messages", "direct_messages"]) {
      yield* sql`ALTER TABLE ${sql(table)}
        ADD COLUMN kind integer NOT NULL DEFAULT 0,
        ADD COLUMN target_seq bigint NOT NULL DEFAULT 0,
        ADD COLUMN emoji text NOT NULL DEFAULT '',
        ADD COLUMN edited_at_ms bigint NOT NULL DEFAULT 0,
        ADD COLUMN deleted boolean NOT NULL DEFAULT false,
        ADD COLUMN state_seq bigint NOT NULL DEFAULT 0`;
    }
    yield* sql`CREATE TABLE reactions (
      room_code text COLLATE "C" NOT NULL,
      target_seq bigint NOT NULL,
      emoji text COLLATE "C" NOT NULL,
      username text COLLATE "C" NOT NULL,
      seq bigint NOT NULL,
      PRIMARY KEY (room_code, target_seq, emoji, username),
      FOREIGN KEY (room_code, target_seq) REFERENCES messages (room_code, seq)
    )`;
    yield* sql`CREATE TABLE direct_reactions (
      user_a text COLLATE "C" NOT NULL,
      user_b text COLLATE "C" NOT NULL,
      target_seq bigint NOT NULL,
      emoji text COLLATE "C" NOT NULL,
      username text COLLATE "C" NOT NULL,
      seq bigint NOT NULL,
      PRIMARY KEY (user_a, user_b, target_seq, emoji, username),
      FOREIGN KEY (user_a, user_b, target_seq) REFERENCES direct_messages (user_a, user_b, seq)
    )`;
  }),
  // 3: uploaded files (files/blob-store-pg.ts): one row per upload, the bytes in 1 MiB chunks per SHA-256.
  "3_files": Effect.gen(function* () {
    const sql = yield* SqlClient;
    yield* sql`CREATE TABLE uploads (
      id text COLLATE "C" PRIMARY KEY,
      owner text NOT NULL,
      owner_key text COLLATE "C" NOT NULL,
      file_name text NOT NULL,
      media_type text NOT NULL,
      size_bytes bigint NOT NULL,
      width integer NOT NULL,
      height integer NOT NULL,
      sha256 text COLLATE "C" NOT NULL,
      thumb_sha256 text COLLATE "C" NOT NULL,
      created_at_ms bigint NOT NULL,
      conversation text COLLATE "C",
      client_message_id text COLLATE "C",
      position integer NOT NULL DEFAULT 0
    )`;
    yield* sql`CREATE INDEX uploads_by_owner ON uploads (owner_key, created_at_ms)`;
    yield* sql`CREATE INDEX uploads_by_message ON uploads (conversation, owner_key, client_message_id) WHERE conversation IS NOT NULL`;
    yield* sql`CREATE INDEX uploads_unattached ON uploads (created_at_ms) WHERE conversation IS NULL`;
    yield* sql`CREATE INDEX uploads_by_blob ON uploads (sha256)`;
    yield* sql`CREATE INDEX uploads_by_thumb ON uploads (thumb_sha256)`;
    yield* sql`CREATE TABLE blob_chunks (
      sha256 text COLLATE "C" NOT NULL,
      idx integer NOT NULL,
      data bytea NOT NULL,
      PRIMARY KEY (sha256, idx)
    )`;
  }),
};

/** Applies the pending migrations; returns the ones that ran ([id, name]). */
export const migrate = Migrator.make({})({ loader: Migrator.fromRecord(migrations) });
