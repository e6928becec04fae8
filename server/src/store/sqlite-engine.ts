// The SQLite Store's synchronous engine, free of Effect: opening (pragmas, migrations, a probe commit), the
// statements, group-committed append batches and failure classification. Results and failures leave it as plain
// data; sqlite.ts runs it, holds the answers until the WAL is flushed and rebuilds the tagged errors.
import { mkdirSync, statfsSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { num, type Row, str, toSession, toUser } from "./rows.ts";
import {
  ACTION_CODES,
  type ActionRefusal,
  actionCode,
  actionRefusal,
  freshState,
  groupReactions,
  quoteText,
  usernameKey,
} from "./rules.ts";
import type {
  Appended,
  EventState,
  NewAction,
  NewDirect,
  NewDirectAction,
  NewMessage,
  NewRoom,
  NewRoomAction,
  NewUser,
  Page,
  PageQuery,
  RoomRecord,
  SessionRecord,
  StorageStatus,
  StoredDirect,
  StoredMessage,
  UserRecord,
} from "./store.ts";

export interface SqliteStoreOptions {
  /** The database file, e.g. `<dataDir>/chat.db`; its directory is created if missing. */
  readonly file: string;
  /** How long a statement waits for a lock held by another connection (default 5000 ms). */
  readonly busyTimeoutMs?: number;
  /** Most appends written in one transaction (default 512). */
  readonly maxBatch?: number;
  /** While storage is unavailable, a probe commit runs this often to notice recovery (default 1000 ms). */
  readonly probeIntervalMs?: number;
  /** While available, a probe commit runs when nothing committed for this long (default 5000 ms). */
  readonly idleProbeMs?: number;
  /**
   * "full" (default): each COMMIT fsyncs the WAL before it returns. "normal": COMMIT writes the WAL frames but
   * does not fsync them; the caller must fdatasync the `-wal` file before it acknowledges anything (sqlite.ts
   * does, on libuv's thread pool). Checkpoints sync in both modes.
   */
  readonly synchronous?: "full" | "normal";
}

/** Counters for benchmarks and tests: how many append transactions ran and how many appends they carried. */
export interface SqliteStoreStats {
  readonly batches: number;
  readonly appends: number;
  readonly largestBatch: number;
}

/**
 * Numbered migrations; `PRAGMA user_version` holds how many have run. Append only: never edit a released one.
 * Each runs once, inside one transaction with the version bump.
 */
export const migrations: ReadonlyArray<string> = [
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL,
    username_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX sessions_by_user ON sessions (user_id, expires_at_ms);
  CREATE TABLE rooms (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    persistent INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    destroyed_at_ms INTEGER,
    last_seq INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX rooms_persistent_by_name ON rooms (name) WHERE persistent = 1 AND destroyed_at_ms IS NULL;
  CREATE TABLE messages (
    room_code TEXT NOT NULL REFERENCES rooms (code),
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    sent_at_ms INTEGER NOT NULL,
    text TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    PRIMARY KEY (room_code, seq)
  ) STRICT;
  CREATE UNIQUE INDEX messages_idempotency ON messages (room_code, sender, client_message_id);
  CREATE TABLE conversations (
    user_a TEXT NOT NULL,
    user_b TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (user_a, user_b)
  ) STRICT;
  CREATE TABLE direct_messages (
    user_a TEXT NOT NULL,
    user_b TEXT NOT NULL,
    seq INTEGER NOT NULL,
    sender TEXT NOT NULL,
    sender_key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sent_at_ms INTEGER NOT NULL,
    text TEXT NOT NULL,
    client_message_id TEXT NOT NULL,
    PRIMARY KEY (user_a, user_b, seq),
    FOREIGN KEY (user_a, user_b) REFERENCES conversations (user_a, user_b)
  ) STRICT;
  CREATE UNIQUE INDEX direct_messages_idempotency ON direct_messages (user_a, user_b, sender_key, client_message_id);
  `,
  // 2: message actions and replies. Only ADD COLUMN with constant defaults and new tables, so an existing
  // database is upgraded in place (no table rewrite): its messages read as plain, unedited, without reactions.
  // kind: 0 plain message, else the ActionKind number; target_seq: the replied-to seq (kind 0) or the action's
  // target; state columns (edited_at_ms, deleted, state_seq) are kept current on the target row.
  `
  ALTER TABLE messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN target_seq INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN emoji TEXT NOT NULL DEFAULT '';
  ALTER TABLE messages ADD COLUMN edited_at_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE messages ADD COLUMN state_seq INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE reactions (
    room_code TEXT NOT NULL,
    target_seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    username TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (room_code, target_seq, emoji, username),
    FOREIGN KEY (room_code, target_seq) REFERENCES messages (room_code, seq)
  ) STRICT;
  ALTER TABLE direct_messages ADD COLUMN kind INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE direct_messages ADD COLUMN target_seq INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE direct_messages ADD COLUMN emoji TEXT NOT NULL DEFAULT '';
  ALTER TABLE direct_messages ADD COLUMN edited_at_ms INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE direct_messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE direct_messages ADD COLUMN state_seq INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE direct_reactions (
    user_a TEXT NOT NULL,
    user_b TEXT NOT NULL,
    target_seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    username TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (user_a, user_b, target_seq, emoji, username),
    FOREIGN KEY (user_a, user_b, target_seq) REFERENCES direct_messages (user_a, user_b, seq)
  ) STRICT;
  `,
];

/** Largest SQLite integer: the exclusive upper bound of a backward page from the newest message. */
const NEWEST = 9_223_372_036_854_775_807n;

const toRoom = (row: Row): RoomRecord => ({
  code: str(row.code),
  name: str(row.name),
  persistent: num(row.persistent) === 1,
  createdBy: str(row.created_by),
  createdAtMs: num(row.created_at_ms),
  destroyedAtMs: row.destroyed_at_ms === null ? null : num(row.destroyed_at_ms),
  lastSeq: BigInt(num(row.last_seq)),
});

/** The event columns of a row (and, when the read joined it, the quoted message as q_*); reactions come apart. */
const toState = (row: Row): EventState => {
  const kind = ACTION_CODES[num(row.kind ?? 0)];
  const target = BigInt(num(row.target_seq ?? 0));
  return {
    replyToSeq: kind === undefined ? target : 0n,
    replyQuote:
      kind === undefined && target > 0n && row.q_sender !== undefined && row.q_sender !== null
        ? { sender: str(row.q_sender), text: quoteText(str(row.q_text)), deleted: num(row.q_deleted) === 1 }
        : undefined,
    action: kind === undefined ? undefined : { kind, targetSeq: target, emoji: str(row.emoji ?? "") },
    editedAtMs: num(row.edited_at_ms ?? 0),
    deleted: num(row.deleted ?? 0) === 1,
    reactions: [],
    stateSeq: BigInt(num(row.state_seq ?? 0)),
  };
};

const toMessage = (row: Row): StoredMessage => ({
  roomCode: str(row.room_code),
  seq: BigInt(num(row.seq)),
  sender: str(row.sender),
  sentAtMs: num(row.sent_at_ms),
  text: str(row.text),
  clientMessageId: str(row.client_message_id),
  ...toState(row),
});

const toDirect = (row: Row): StoredDirect => ({
  sender: str(row.sender),
  recipient: str(row.recipient),
  seq: BigInt(num(row.seq)),
  sentAtMs: num(row.sent_at_ms),
  text: str(row.text),
  clientMessageId: str(row.client_message_id),
  ...toState(row),
});

/** A refused action thrown out of its savepoint; carries the refusal its caller gets. */
class Refusal {
  readonly refusal: ActionRefusal;
  constructor(refusal: ActionRefusal) {
    this.refusal = refusal;
  }
}

/**
 * SQLite result codes (the primary code: the low byte of node:sqlite's extended `errcode`) that mean the storage
 * cannot do the work now, while the database itself is fine: retrying later can succeed. Anything else (a
 * constraint, a corrupt file, a misuse) is a StoreError: a bug or damage that retrying will not fix.
 */
const UNAVAILABLE_CODES: ReadonlyMap<number, string> = new Map([
  [5, "SQLITE_BUSY"],
  [6, "SQLITE_LOCKED"],
  [8, "SQLITE_READONLY"],
  [10, "SQLITE_IOERR"],
  [13, "SQLITE_FULL"],
  [14, "SQLITE_CANTOPEN"],
  [15, "SQLITE_PROTOCOL"],
]);

/** Retry delays announced with UNAVAILABLE: lock contention clears fast; a full disk needs an operator. */
const RETRY_BUSY_MS = 250;
const RETRY_DISK_MS = 2000;

/**
 * The header field `PRAGMA application_id` ("pcht"). The readiness probe rewrites it: a real commit (one WAL frame
 * and an fsync) that changes no data, so "can the disk take a commit now?" is answered by trying one.
 */
const APPLICATION_ID = 0x70636874;

const sqliteCode = (cause: unknown): number | undefined => {
  const code = (cause as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" ? code : undefined;
};

/**
 * One line for logs, /readyz and start-up errors: SQLite's message, its code and, for storage trouble, the free
 * space left where the file lives.
 */
const describeFailure = (cause: unknown, dir: string | undefined): string => {
  const code = sqliteCode(cause);
  const name = code === undefined ? undefined : UNAVAILABLE_CODES.get(code & 0xff);
  const message = cause instanceof Error ? cause.message : String(cause);
  let free = "";
  if (dir !== undefined && name !== undefined) {
    try {
      const fs = statfsSync(dir);
      free = `; ${Math.floor((fs.bavail * fs.bsize) / 1024)} KiB free in ${dir}`;
    } catch {
      // The free space is a hint for the operator; without it the message still says what failed.
    }
  }
  const codes = code === undefined ? "" : name === undefined ? ` (code ${code})` : ` (${name}, code ${code})`;
  return `${message}${codes}${free}`;
};
/**
 * For a failure of the storage itself (see UNAVAILABLE_CODES): its code's name and the retry delay to announce;
 * undefined for anything else (a constraint, a corrupt file, a misuse: a StoreError).
 */
export const storageTrouble = (cause: unknown): { readonly name: string; readonly retryAfterMs: number } | undefined => {
  const code = sqliteCode(cause);
  const name = code === undefined ? undefined : UNAVAILABLE_CODES.get(code & 0xff);
  if (name === undefined) return undefined;
  return { name, retryAfterMs: name === "SQLITE_BUSY" || name === "SQLITE_LOCKED" ? RETRY_BUSY_MS : RETRY_DISK_MS };
};

/** A failure's cause as it crosses the thread boundary: the message, SQLite's code and the stack, or a plain reason. */
export type CauseData = string | { readonly message: string; readonly errcode?: number; readonly stack?: string };

/** Every failure a call can end with, as plain data; sqlite.ts rebuilds the tagged error of the same name. */
export type FailureData =
  | { readonly _tag: "StoreError"; readonly operation: string; readonly cause: CauseData }
  | { readonly _tag: "StorageUnavailable"; readonly operation: string; readonly cause: CauseData; readonly retryAfterMs: number }
  | { readonly _tag: "UsernameTaken" }
  | { readonly _tag: "RoomCodeTaken" }
  | ActionRefusal;

/** The result of one call or append. */
export type Outcome = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: FailureData };

const causeData = (cause: unknown): CauseData => {
  if (!(cause instanceof Error)) return String(cause);
  const code = sqliteCode(cause);
  return code === undefined
    ? { message: cause.message, stack: cause.stack ?? "" }
    : { message: cause.message, errcode: code, stack: cause.stack ?? "" };
};

/** The failure of `operation` as data: StorageUnavailable when the storage could not do it now, StoreError otherwise. */
const classify = (operation: string, cause: unknown): FailureData => {
  const trouble = storageTrouble(cause);
  return trouble === undefined
    ? { _tag: "StoreError", operation, cause: causeData(cause) }
    : { _tag: "StorageUnavailable", operation, cause: causeData(cause), retryAfterMs: trouble.retryAfterMs };
};

/** True for a UNIQUE or PRIMARY KEY violation (SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY). */
const isUniqueViolation = (error: unknown): boolean => {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return code === 2067 || code === 1555;
};

/** The conversation of two users: their keys, in a fixed order so both directions share one row. */
const conversationOf = (userA: string, userB: string): readonly [string, string] => {
  const a = usernameKey(userA);
  const b = usernameKey(userB);
  return a <= b ? [a, b] : [b, a];
};

/**
 * Opens the file, applies the pragmas and any pending migrations, then commits one probe: a store that cannot
 * commit does not start (the caller reports why). Throws on failure.
 */
const openDatabase = (options: SqliteStoreOptions): DatabaseSync => {
  if (options.file !== ":memory:") mkdirSync(dirname(options.file), { recursive: true });
  const db = new DatabaseSync(options.file, {
    enableForeignKeyConstraints: true,
    timeout: options.busyTimeoutMs ?? 5000,
  });
  try {
    db.prepare("PRAGMA journal_mode = WAL").get();
    // FULL: the WAL is fsynced on every commit, so an acked append survives power loss, not only a crash.
    // NORMAL: the same minus that fsync, which the caller then does itself before acking (see sqlite.ts).
    db.prepare(`PRAGMA synchronous = ${options.synchronous === "normal" ? "NORMAL" : "FULL"}`).run();
    migrate(db);
    probe(db);
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
};

const migrate = (db: DatabaseSync): void => {
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const rollback = db.prepare("ROLLBACK");
  begin.run();
  try {
    const version = num((db.prepare("PRAGMA user_version").get() as Row).user_version);
    for (let index = version; index < migrations.length; index++) {
      // A migration holds several statements; exec runs them in order inside this transaction.
      db.exec(migrations[index]!);
      // PRAGMA takes no bound parameters; the value is our own integer.
      db.prepare(`PRAGMA user_version = ${index + 1}`).run();
    }
    commit.run();
  } catch (error) {
    if (db.isTransaction) rollback.run();
    throw error;
  }
};

/** The readiness probe: one commit that rewrites the header's application_id. Throws when it cannot commit. */
const probe = (db: DatabaseSync): void => {
  db.prepare("BEGIN IMMEDIATE").run();
  try {
    db.prepare(`PRAGMA application_id = ${APPLICATION_ID}`).run();
    db.prepare("COMMIT").run();
  } catch (error) {
    if (db.isTransaction) db.prepare("ROLLBACK").run();
    throw error;
  }
};

/** One append of a batch. */
export type AppendRequest =
  | { readonly kind: "message"; readonly input: NewMessage }
  | { readonly kind: "direct"; readonly input: NewDirect }
  | { readonly kind: "room-action"; readonly input: NewRoomAction }
  | { readonly kind: "direct-action"; readonly input: NewDirectAction };

/** The new event's own fields: an action event carries no state of its own. */
const actionState = (input: NewAction): EventState => ({
  ...freshState(0n),
  action: { kind: input.kind, targetSeq: input.targetSeq, emoji: input.emoji },
});

/**
 * The event a fresh (not duplicate) append stored, from its input and the seq it took. The engine answers a fresh
 * append with its seq only and sqlite.ts rebuilds the event here.
 */
export const appendedEvent = (append: AppendRequest, seq: number): Appended<StoredMessage> | Appended<StoredDirect> => {
  const { input } = append;
  const common = {
    seq: BigInt(seq),
    sender: input.sender,
    sentAtMs: input.sentAtMs,
    text: input.text,
    clientMessageId: input.clientMessageId,
  };
  switch (append.kind) {
    case "message":
      return { message: { roomCode: append.input.roomCode, ...common, ...freshState(append.input.replyToSeq ?? 0n) }, duplicate: false };
    case "direct":
      return { message: { recipient: append.input.recipient, ...common, ...freshState(append.input.replyToSeq ?? 0n) }, duplicate: false };
    case "room-action":
      return { message: { roomCode: append.input.roomCode, ...common, ...actionState(append.input) }, duplicate: false };
    case "direct-action":
      return { message: { recipient: append.input.recipient, ...common, ...actionState(append.input) }, duplicate: false };
  }
};

/** A request to the engine: an append (written in a group commit) or one of the other calls. */
export type StoreRequest = AppendRequest | { readonly kind: "call"; readonly op: SqliteCall; readonly args: ReadonlyArray<unknown> };

/** The engine's calls other than appends: the Store's methods of the same name, and the readiness probe. */
export interface SqliteCalls {
  createUser(input: NewUser): UserRecord;
  findUser(usernameKey: string): UserRecord | undefined;
  createSession(session: SessionRecord): void;
  findSession(tokenHash: string): SessionRecord | undefined;
  revokeSession(tokenHash: string): void;
  createRoom(room: NewRoom): RoomRecord;
  findRoom(code: string): RoomRecord | undefined;
  destroyRoom(code: string, atMs: number): void;
  countPersistentRooms(createdBy: string): number;
  listTemporaryRooms(limit: number): ReadonlyArray<RoomRecord>;
  listPersistentRooms(limit: number): ReadonlyArray<RoomRecord>;
  readMessages(roomCode: string, query: PageQuery): Page<StoredMessage>;
  readDirect(userA: string, userB: string, query: PageQuery): Page<StoredDirect>;
  /** A probe commit when due: while unavailable, always; while available, after idleProbeMs without a commit. */
  probe(): void;
}
export type SqliteCall = keyof SqliteCalls;

export interface SqliteEngine {
  /** Runs one call; its failure (classified, recorded in the health state) comes back as data. */
  readonly call: (op: SqliteCall, args: ReadonlyArray<unknown>) => Outcome;
  /**
   * Writes the appends in ONE transaction, each under a savepoint: a refused action or a bad append (an unknown
   * room) fails only itself; a failed BEGIN/COMMIT or a storage failure fails every one (nothing committed, no
   * seq used). Returns one outcome per append, in order; a success only once COMMIT returned. A success is the
   * seq a fresh append took (see appendedEvent) or, for a duplicate, the stored original as `Appended`.
   */
  readonly runBatch: (appends: ReadonlyArray<AppendRequest>) => ReadonlyArray<Outcome>;
  /** Health as last observed: every commit that succeeded clears it, every StorageUnavailable sets it. */
  readonly status: () => StorageStatus;
  readonly stats: () => SqliteStoreStats;
  /** How many transactions committed since open: grows by one at every successful COMMIT. */
  readonly commits: () => number;
  readonly close: () => void;
}

/**
 * Opens the engine over `options.file`. A store that cannot open and commit a probe does not start: the failure
 * is StorageUnavailable when the disk cannot take a commit (full, I/O errors, read-only) and StoreError for
 * anything else (a corrupt or foreign file), its cause one line that names the file and says why.
 */
export const openSqliteEngine = (options: SqliteStoreOptions): { readonly engine: SqliteEngine } | { readonly error: FailureData } => {
  const dir = options.file === ":memory:" ? undefined : dirname(options.file);
  let db: DatabaseSync;
  try {
    db = openDatabase(options);
  } catch (cause) {
    // The one place the cause is replaced: start-up reports it as one line, so it carries the whole story.
    const reason = `${options.file}: ${describeFailure(cause, dir)}`;
    const trouble = storageTrouble(cause);
    return {
      error:
        trouble === undefined
          ? { _tag: "StoreError", operation: "open", cause: { message: reason } }
          : { _tag: "StorageUnavailable", operation: "open", cause: { message: reason }, retryAfterMs: trouble.retryAfterMs },
    };
  }
  return { engine: makeEngine(db, options, dir) };
};

const makeEngine = (db: DatabaseSync, options: SqliteStoreOptions, dir: string | undefined): SqliteEngine => {
  const idleProbeMs = options.idleProbeMs ?? 5000;
  const stats = { batches: 0, appends: 0, largestBatch: 0 };

  let status: StorageStatus = { _tag: "Available" };
  let lastCommitMs = Date.now();
  let commits = 0;
  const committed = () => {
    commits++;
    lastCommitMs = Date.now();
    if (status._tag !== "Available") status = { _tag: "Available" };
  };
  /** Classifies a failure and records a StorageUnavailable in the health state (keeping when it started). */
  const failure = (operation: string, cause: unknown): FailureData => {
    const error = classify(operation, cause);
    if (error._tag === "StorageUnavailable") {
      status = {
        _tag: "Unavailable",
        reason: describeFailure(cause, dir),
        sinceMs: status._tag === "Unavailable" ? status.sinceMs : Date.now(),
      };
    }
    return error;
  };

  const prepare = (sql: string): StatementSync => db.prepare(sql);
  const sql = {
    begin: prepare("BEGIN IMMEDIATE"),
    commit: prepare("COMMIT"),
    rollback: prepare("ROLLBACK"),
    savepoint: prepare("SAVEPOINT append"),
    release: prepare("RELEASE append"),
    rollbackTo: prepare("ROLLBACK TO append"),
    probe: prepare(`PRAGMA application_id = ${APPLICATION_ID}`),
    insertUser: prepare("INSERT INTO users (username, username_key, password_hash, created_at_ms) VALUES (?, ?, ?, ?) RETURNING *"),
    findUser: prepare("SELECT * FROM users WHERE username_key = ?"),
    insertSession: prepare("INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?)"),
    // Expired sessions are swept per user at each new session, so the table stays bounded without a timer.
    sweepSessions: prepare("DELETE FROM sessions WHERE user_id = ? AND expires_at_ms <= ?"),
    findSession: prepare(
      "SELECT s.token_hash, s.user_id, u.username, s.created_at_ms, s.expires_at_ms FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?",
    ),
    deleteSession: prepare("DELETE FROM sessions WHERE token_hash = ?"),
    insertRoom: prepare("INSERT INTO rooms (code, name, persistent, created_by, created_at_ms) VALUES (?, ?, ?, ?, ?) RETURNING *"),
    findRoom: prepare("SELECT * FROM rooms WHERE code = ?"),
    destroyRoom: prepare("UPDATE rooms SET destroyed_at_ms = ? WHERE code = ? AND destroyed_at_ms IS NULL"),
    listPersistent: prepare("SELECT * FROM rooms WHERE persistent = 1 AND destroyed_at_ms IS NULL ORDER BY name, code LIMIT ?"),
    countPersistentBy: prepare("SELECT COUNT(*) AS n FROM rooms WHERE persistent = 1 AND destroyed_at_ms IS NULL AND created_by = ?"),
    listTemporary: prepare("SELECT * FROM rooms WHERE persistent = 0 AND destroyed_at_ms IS NULL ORDER BY code LIMIT ?"),
    findMessageById: prepare("SELECT * FROM messages WHERE room_code = ? AND sender = ? AND client_message_id = ?"),
    nextRoomSeq: prepare("UPDATE rooms SET last_seq = last_seq + 1 WHERE code = ? RETURNING last_seq"),
    insertMessage: prepare(
      "INSERT INTO messages (room_code, seq, sender, sent_at_ms, text, client_message_id, kind, target_seq, emoji) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    // A plain message's reply quote comes from the replied-to row, as it is now.
    messagesBackward: prepare(
      `SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM messages m
       LEFT JOIN messages q ON m.kind = 0 AND m.target_seq > 0 AND q.room_code = m.room_code AND q.seq = m.target_seq
       WHERE m.room_code = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`,
    ),
    messagesForward: prepare(
      `SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM messages m
       LEFT JOIN messages q ON m.kind = 0 AND m.target_seq > 0 AND q.room_code = m.room_code AND q.seq = m.target_seq
       WHERE m.room_code = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?`,
    ),
    reactionsBetween: prepare(
      "SELECT target_seq, emoji, username FROM reactions WHERE room_code = ? AND target_seq BETWEEN ? AND ? ORDER BY target_seq, seq",
    ),
    findMessage: prepare("SELECT * FROM messages WHERE room_code = ? AND seq = ?"),
    editMessage: prepare("UPDATE messages SET text = ?, edited_at_ms = ?, state_seq = ? WHERE room_code = ? AND seq = ?"),
    deleteMessage: prepare("UPDATE messages SET text = '', deleted = 1, state_seq = ? WHERE room_code = ? AND seq = ?"),
    eraseEdits: prepare("UPDATE messages SET text = '' WHERE room_code = ? AND target_seq = ? AND kind = 1"),
    dropReactions: prepare("DELETE FROM reactions WHERE room_code = ? AND target_seq = ?"),
    touchMessage: prepare("UPDATE messages SET state_seq = ? WHERE room_code = ? AND seq = ?"),
    emojiFacts: prepare(
      "SELECT COUNT(DISTINCT emoji) AS distinct_emoji, COALESCE(SUM(emoji = ?), 0) AS present FROM reactions WHERE room_code = ? AND target_seq = ?",
    ),
    addReaction: prepare(
      "INSERT INTO reactions (room_code, target_seq, emoji, username, seq) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    removeReaction: prepare("DELETE FROM reactions WHERE room_code = ? AND target_seq = ? AND emoji = ? AND username = ?"),
    findDirectById: prepare("SELECT * FROM direct_messages WHERE user_a = ? AND user_b = ? AND sender_key = ? AND client_message_id = ?"),
    nextDirectSeq: prepare(
      "INSERT INTO conversations (user_a, user_b, last_seq) VALUES (?, ?, 1) ON CONFLICT (user_a, user_b) DO UPDATE SET last_seq = last_seq + 1 RETURNING last_seq",
    ),
    insertDirect: prepare(
      "INSERT INTO direct_messages (user_a, user_b, seq, sender, sender_key, recipient, sent_at_ms, text, client_message_id, kind, target_seq, emoji) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ),
    directBackward: prepare(
      `SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM direct_messages m
       LEFT JOIN direct_messages q ON m.kind = 0 AND m.target_seq > 0 AND q.user_a = m.user_a AND q.user_b = m.user_b AND q.seq = m.target_seq
       WHERE m.user_a = ? AND m.user_b = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`,
    ),
    directForward: prepare(
      `SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM direct_messages m
       LEFT JOIN direct_messages q ON m.kind = 0 AND m.target_seq > 0 AND q.user_a = m.user_a AND q.user_b = m.user_b AND q.seq = m.target_seq
       WHERE m.user_a = ? AND m.user_b = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?`,
    ),
    directReactionsBetween: prepare(
      "SELECT target_seq, emoji, username FROM direct_reactions WHERE user_a = ? AND user_b = ? AND target_seq BETWEEN ? AND ? ORDER BY target_seq, seq",
    ),
    findDirect: prepare("SELECT * FROM direct_messages WHERE user_a = ? AND user_b = ? AND seq = ?"),
    lastDirectSeq: prepare("SELECT last_seq FROM conversations WHERE user_a = ? AND user_b = ?"),
    bumpDirectSeq: prepare("UPDATE conversations SET last_seq = last_seq + 1 WHERE user_a = ? AND user_b = ? RETURNING last_seq"),
    editDirect: prepare("UPDATE direct_messages SET text = ?, edited_at_ms = ?, state_seq = ? WHERE user_a = ? AND user_b = ? AND seq = ?"),
    deleteDirect: prepare("UPDATE direct_messages SET text = '', deleted = 1, state_seq = ? WHERE user_a = ? AND user_b = ? AND seq = ?"),
    eraseDirectEdits: prepare("UPDATE direct_messages SET text = '' WHERE user_a = ? AND user_b = ? AND target_seq = ? AND kind = 1"),
    dropDirectReactions: prepare("DELETE FROM direct_reactions WHERE user_a = ? AND user_b = ? AND target_seq = ?"),
    touchDirect: prepare("UPDATE direct_messages SET state_seq = ? WHERE user_a = ? AND user_b = ? AND seq = ?"),
    directEmojiFacts: prepare(
      "SELECT COUNT(DISTINCT emoji) AS distinct_emoji, COALESCE(SUM(emoji = ?), 0) AS present FROM direct_reactions WHERE user_a = ? AND user_b = ? AND target_seq = ?",
    ),
    addDirectReaction: prepare(
      "INSERT INTO direct_reactions (user_a, user_b, target_seq, emoji, username, seq) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    ),
    removeDirectReaction: prepare(
      "DELETE FROM direct_reactions WHERE user_a = ? AND user_b = ? AND target_seq = ? AND emoji = ? AND username = ?",
    ),
  };

  /**
   * Runs `run` in one explicit transaction and checks its COMMIT. node:sqlite's `.get()` of an autocommit
   * `INSERT ... RETURNING` returns the row even when the implicit commit fails (it steps once and ignores the
   * reset's error), so no write here is left to autocommit. On any failure the transaction is rolled back.
   */
  const inTransaction = <A>(run: () => A): A => {
    sql.begin.run();
    try {
      const result = run();
      sql.commit.run();
      return result;
    } catch (cause) {
      if (db.isTransaction) {
        try {
          sql.rollback.run();
        } catch {
          // The transaction is already gone; nothing was committed either way.
        }
      }
      throw cause;
    }
  };

  /** A failure already classified, thrown out of a call (a taken name). */
  class Known {
    readonly error: FailureData;
    constructor(error: FailureData) {
      this.error = error;
    }
  }

  /** A write as one checked transaction. `known` maps expected failures (a taken name) before classification. */
  const write = <A>(run: () => A, known: (cause: unknown) => FailureData | undefined = () => undefined): A => {
    let result: A;
    try {
      result = inTransaction(run);
    } catch (cause) {
      const error = known(cause);
      throw error === undefined ? cause : new Known(error);
    }
    committed();
    return result;
  };

  /** Reads `limit + 1` rows nearest the anchor to learn whether more exist, then returns them ascending. */
  const page = <A>(
    query: PageQuery,
    backward: (anchor: bigint, take: number) => ReadonlyArray<Row>,
    forward: (anchor: bigint, take: number) => ReadonlyArray<Row>,
    decode: (row: Row) => A,
  ): Page<A> => {
    const limit = Math.max(1, Math.floor(query.limit));
    // Anchors come from the wire as uint64; SQLite binds at most int64. No seq comes near it, so a larger
    // anchor means the same as the largest: before everything (backward), after everything (forward).
    const anchorSeq = query.anchorSeq > NEWEST ? NEWEST : query.anchorSeq;
    if (query.direction === "backward") {
      const rows = backward(anchorSeq === 0n ? NEWEST : anchorSeq, limit + 1);
      const kept = rows.slice(0, limit).map(decode).reverse();
      return { messages: kept, hasMore: rows.length > limit };
    }
    const rows = forward(anchorSeq, limit + 1);
    return { messages: rows.slice(0, limit).map(decode), hasMore: rows.length > limit };
  };

  /** Fills each plain message of a page with its reactions (one range read over the page's seqs). */
  const withReactions = <A extends { readonly seq: bigint; readonly action: unknown; readonly reactions: unknown }>(
    result: Page<A>,
    read: (from: bigint, to: bigint) => ReadonlyArray<Row>,
  ): Page<A> => {
    const first = result.messages[0];
    const last = result.messages.at(-1);
    if (first === undefined || last === undefined) return result;
    const rows = read(first.seq, last.seq).map((row) => ({
      targetSeq: BigInt(num(row.target_seq)),
      emoji: str(row.emoji),
      username: str(row.username),
    }));
    if (rows.length === 0) return result;
    const grouped = groupReactions(rows);
    return { ...result, messages: result.messages.map((m) => (grouped.has(m.seq) ? { ...m, reactions: grouped.get(m.seq)! } : m)) };
  };

  // One append inside the batch transaction. A retry (same idempotency key) returns the stored original.
  const writeMessage = (input: NewMessage): Appended<StoredMessage> | number => {
    const existing = sql.findMessageById.get(input.roomCode, input.sender, input.clientMessageId) as Row | undefined;
    if (existing !== undefined) return { message: toMessage(existing), duplicate: true };
    const next = sql.nextRoomSeq.get(input.roomCode) as Row | undefined;
    if (next === undefined) throw new Error("no such room");
    const seq = num(next.last_seq);
    const replyToSeq = input.replyToSeq ?? 0n;
    sql.insertMessage.run(input.roomCode, seq, input.sender, input.sentAtMs, input.text, input.clientMessageId, 0, replyToSeq, "");
    return seq;
  };

  // One action inside the batch transaction: checks the target, takes the room's next seq, stores the event and
  // applies it to the target row. A refusal is thrown as a Refusal (its savepoint is rolled back).
  const writeRoomAction = (input: NewRoomAction): Appended<StoredMessage> | number => {
    const existing = sql.findMessageById.get(input.roomCode, input.sender, input.clientMessageId) as Row | undefined;
    if (existing !== undefined) return { message: toMessage(existing), duplicate: true };
    const target = sql.findMessage.get(input.roomCode, input.targetSeq) as Row | undefined;
    const facts = sql.emojiFacts.get(input.emoji, input.roomCode, input.targetSeq) as Row;
    const refused = actionRefusal(
      input,
      target === undefined
        ? undefined
        : { kind: num(target.kind), senderKey: usernameKey(str(target.sender)), deleted: num(target.deleted) === 1 },
      { present: num(facts.present) > 0, distinct: num(facts.distinct_emoji) },
    );
    if (refused !== undefined) throw new Refusal(refused);
    const next = sql.nextRoomSeq.get(input.roomCode) as Row | undefined;
    if (next === undefined) throw new Error("no such room");
    const seq = num(next.last_seq);
    sql.insertMessage.run(
      input.roomCode,
      seq,
      input.sender,
      input.sentAtMs,
      input.text,
      input.clientMessageId,
      actionCode(input.kind),
      input.targetSeq,
      input.emoji,
    );
    switch (input.kind) {
      case "edit":
        sql.editMessage.run(input.text, input.sentAtMs, seq, input.roomCode, input.targetSeq);
        break;
      case "delete":
        sql.deleteMessage.run(seq, input.roomCode, input.targetSeq);
        sql.eraseEdits.run(input.roomCode, input.targetSeq);
        sql.dropReactions.run(input.roomCode, input.targetSeq);
        break;
      case "reaction-add":
        sql.addReaction.run(input.roomCode, input.targetSeq, input.emoji, input.sender, seq);
        sql.touchMessage.run(seq, input.roomCode, input.targetSeq);
        break;
      case "reaction-remove":
        sql.removeReaction.run(input.roomCode, input.targetSeq, input.emoji, input.sender);
        sql.touchMessage.run(seq, input.roomCode, input.targetSeq);
        break;
    }
    return seq;
  };

  const writeDirectAction = (input: NewDirectAction): Appended<StoredDirect> | number => {
    const [a, b] = conversationOf(input.sender, input.recipient);
    const senderKey = usernameKey(input.sender);
    const existing = sql.findDirectById.get(a, b, senderKey, input.clientMessageId) as Row | undefined;
    if (existing !== undefined) return { message: toDirect(existing), duplicate: true };
    const target = sql.findDirect.get(a, b, input.targetSeq) as Row | undefined;
    const facts = sql.directEmojiFacts.get(input.emoji, a, b, input.targetSeq) as Row;
    const refused = actionRefusal(
      input,
      target === undefined ? undefined : { kind: num(target.kind), senderKey: str(target.sender_key), deleted: num(target.deleted) === 1 },
      { present: num(facts.present) > 0, distinct: num(facts.distinct_emoji) },
    );
    if (refused !== undefined) throw new Refusal(refused);
    const seq = num((sql.bumpDirectSeq.get(a, b) as Row).last_seq);
    sql.insertDirect.run(
      a,
      b,
      seq,
      input.sender,
      senderKey,
      input.recipient,
      input.sentAtMs,
      input.text,
      input.clientMessageId,
      actionCode(input.kind),
      input.targetSeq,
      input.emoji,
    );
    switch (input.kind) {
      case "edit":
        sql.editDirect.run(input.text, input.sentAtMs, seq, a, b, input.targetSeq);
        break;
      case "delete":
        sql.deleteDirect.run(seq, a, b, input.targetSeq);
        sql.eraseDirectEdits.run(a, b, input.targetSeq);
        sql.dropDirectReactions.run(a, b, input.targetSeq);
        break;
      case "reaction-add":
        sql.addDirectReaction.run(a, b, input.targetSeq, input.emoji, input.sender, seq);
        sql.touchDirect.run(seq, a, b, input.targetSeq);
        break;
      case "reaction-remove":
        sql.removeDirectReaction.run(a, b, input.targetSeq, input.emoji, input.sender);
        sql.touchDirect.run(seq, a, b, input.targetSeq);
        break;
    }
    return seq;
  };

  const writeDirect = (input: NewDirect): Appended<StoredDirect> | number => {
    const [a, b] = conversationOf(input.sender, input.recipient);
    const senderKey = usernameKey(input.sender);
    const existing = sql.findDirectById.get(a, b, senderKey, input.clientMessageId) as Row | undefined;
    if (existing !== undefined) return { message: toDirect(existing), duplicate: true };
    const seq = num((sql.nextDirectSeq.get(a, b) as Row).last_seq);
    const replyToSeq = input.replyToSeq ?? 0n;
    sql.insertDirect.run(
      a,
      b,
      seq,
      input.sender,
      senderKey,
      input.recipient,
      input.sentAtMs,
      input.text,
      input.clientMessageId,
      0,
      replyToSeq,
      "",
    );
    return seq;
  };

  /**
   * Writes a batch in one transaction. Each append runs under a savepoint so one bad append (e.g. an unknown
   * room) fails only its caller; a failed BEGIN/COMMIT fails every caller. Callers resume after the commit.
   */

  const writeOne = (append: AppendRequest): Appended<StoredMessage> | Appended<StoredDirect> | number => {
    switch (append.kind) {
      case "message":
        return writeMessage(append.input);
      case "direct":
        return writeDirect(append.input);
      case "room-action":
        return writeRoomAction(append.input);
      case "direct-action":
        return writeDirectAction(append.input);
    }
  };

  const runBatch = (appends: ReadonlyArray<AppendRequest>): ReadonlyArray<Outcome> => {
    stats.batches++;
    stats.appends += appends.length;
    stats.largestBatch = Math.max(stats.largestBatch, appends.length);
    const outcomes: Array<Outcome> = [];
    try {
      inTransaction(() => {
        for (const append of appends) {
          sql.savepoint.run();
          try {
            outcomes.push({ ok: true, value: writeOne(append) });
            sql.release.run();
          } catch (cause) {
            if (cause instanceof Refusal) {
              sql.rollbackTo.run();
              sql.release.run();
              outcomes.push({ ok: false, error: cause.refusal });
              continue;
            }
            // The storage itself failing (e.g. the disk filled when the page cache spilled) dooms the whole
            // transaction, which SQLite may already have rolled back: fail the batch, not just this append.
            if (storageTrouble(cause) !== undefined) throw cause;
            sql.rollbackTo.run();
            sql.release.run();
            outcomes.push({ ok: false, error: { _tag: "StoreError", operation: `append-${append.kind}`, cause: causeData(cause) } });
          }
        }
      });
    } catch (cause) {
      // Nothing of the batch was committed: every caller fails, none was acked, no seq was used.
      const failed: Outcome = { ok: false, error: failure("append-batch", cause) };
      return appends.map(() => failed);
    }
    committed();
    return outcomes;
  };

  const calls: SqliteCalls = {
    createUser: (input) =>
      write(
        () => toUser(sql.insertUser.get(input.username, input.usernameKey, input.passwordHash, input.createdAtMs) as Row),
        (cause) => (isUniqueViolation(cause) ? { _tag: "UsernameTaken" } : undefined),
      ),
    findUser: (key) => {
      const row = sql.findUser.get(key) as Row | undefined;
      return row === undefined ? undefined : toUser(row);
    },
    createSession: (session) =>
      write(() => {
        sql.sweepSessions.run(session.userId, session.createdAtMs);
        sql.insertSession.run(session.tokenHash, session.userId, session.createdAtMs, session.expiresAtMs);
      }),
    findSession: (tokenHash) => {
      const row = sql.findSession.get(tokenHash) as Row | undefined;
      return row === undefined ? undefined : toSession(row);
    },
    revokeSession: (tokenHash) => {
      write(() => sql.deleteSession.run(tokenHash));
    },
    createRoom: (room) =>
      write(
        () => toRoom(sql.insertRoom.get(room.code, room.name, room.persistent ? 1 : 0, room.createdBy, room.createdAtMs) as Row),
        (cause) => (isUniqueViolation(cause) ? { _tag: "RoomCodeTaken" } : undefined),
      ),
    findRoom: (code) => {
      const row = sql.findRoom.get(code) as Row | undefined;
      return row === undefined ? undefined : toRoom(row);
    },
    destroyRoom: (code, atMs) => {
      write(() => sql.destroyRoom.run(atMs, code));
    },
    countPersistentRooms: (createdBy) => Number((sql.countPersistentBy.get(createdBy) as Row).n),
    listTemporaryRooms: (limit) => (sql.listTemporary.all(limit) as ReadonlyArray<Row>).map(toRoom),
    listPersistentRooms: (limit) => (sql.listPersistent.all(limit) as ReadonlyArray<Row>).map(toRoom),
    readMessages: (roomCode, query) =>
      withReactions(
        page(
          query,
          (anchor, take) => sql.messagesBackward.all(roomCode, anchor, take) as ReadonlyArray<Row>,
          (anchor, take) => sql.messagesForward.all(roomCode, anchor, take) as ReadonlyArray<Row>,
          toMessage,
        ),
        (from, to) => sql.reactionsBetween.all(roomCode, from, to) as ReadonlyArray<Row>,
      ),
    readDirect: (userA, userB, query) => {
      const [a, b] = conversationOf(userA, userB);
      return withReactions(
        page(
          query,
          (anchor, take) => sql.directBackward.all(a, b, anchor, take) as ReadonlyArray<Row>,
          (anchor, take) => sql.directForward.all(a, b, anchor, take) as ReadonlyArray<Row>,
          toDirect,
        ),
        (from, to) => sql.directReactionsBetween.all(a, b, from, to) as ReadonlyArray<Row>,
      );
    },
    probe: () => {
      if (status._tag === "Unavailable" || Date.now() - lastCommitMs >= idleProbeMs) write(() => sql.probe.run());
    },
  };

  return {
    call: (op, args) => {
      try {
        return { ok: true, value: (calls[op] as (...args: ReadonlyArray<unknown>) => unknown)(...args) };
      } catch (cause) {
        return { ok: false, error: cause instanceof Known ? cause.error : failure(op, cause) };
      }
    },
    runBatch,
    status: () => status,
    stats: () => ({ ...stats }),
    commits: () => commits,
    close: () => db.close(),
  };
};
