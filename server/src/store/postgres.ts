// The shared Store for several nodes: PostgreSQL through @effect/sql-pg's pool, parameterized statements only.
// A room's seq is its `rooms.last_seq` counter row, incremented in the append's own transaction, so seqs stay
// gap-free from 1 whichever node appends; appends of the same node are group-committed (one transaction per batch).
import { PgClient } from "@effect/sql-pg";
import { Context, Deferred, Effect, Exit, Layer, Queue, Redacted } from "effect";
import { SqlClient } from "effect/sql/SqlClient";
import { isSqlError, type SqlError } from "effect/sql/SqlError";
import { RoomCodeTaken, StorageUnavailable, StoreError, UsernameTaken } from "../errors.ts";
import { migrate } from "./postgres-migrations.ts";
import {
  type Appended,
  type NewDirect,
  type NewMessage,
  type Page,
  type PageQuery,
  type RoomRecord,
  type SessionRecord,
  Store,
  type StoredDirect,
  type StoredMessage,
  type StoreFailure,
  type UserRecord,
  usernameKey,
} from "./store.ts";

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq URL parameters such as `sslmode` are understood). */
  readonly url: string;
  /** Most connections this node opens (default 10). */
  readonly poolSize?: number;
  /** A connection attempt that takes longer fails the operation with StorageUnavailable (default 2000 ms). */
  readonly connectTimeoutMs?: number;
  /** Any operation, a whole append batch included, that takes longer fails with StorageUnavailable (default 5000 ms). */
  readonly operationTimeoutMs?: number;
  /** Most appends written in one transaction (default 256). */
  readonly maxBatch?: number;
  /** The retry delay StorageUnavailable tells clients (default 1000 ms). */
  readonly retryAfterMs?: number;
  /**
   * false: each append is its own transaction, run by its caller on any pooled connection (concurrent appends
   * then commit in parallel, and may take seqs out of arrival order). For the benchmark's comparison; default true.
   */
  readonly groupCommit?: boolean;
}

/** Counters for benchmarks and tests: append transactions committed or tried, and the appends they carried. */
export interface PostgresStoreStats {
  readonly batches: number;
  readonly appends: number;
  readonly largestBatch: number;
  /** Batches rerun after a unique violation, deadlock or serialization failure (a race with another node). */
  readonly retries: number;
}

/** Largest bigint: the exclusive upper bound of a backward page from the newest message. */
const NEWEST = 9_223_372_036_854_775_807n;
/** A batch that races another node this many times fails with StorageUnavailable (the client retries). */
const MAX_ATTEMPTS = 3;

type Row = Record<string, unknown>;

const num = (value: unknown): number => Number(value);
const str = (value: unknown): string => String(value);
const big = (value: unknown): bigint => (typeof value === "bigint" ? value : BigInt(num(value)));

const toUser = (row: Row): UserRecord => ({
  id: num(row.id),
  username: str(row.username),
  usernameKey: str(row.username_key),
  passwordHash: str(row.password_hash),
  createdAtMs: num(row.created_at_ms),
});

const toSession = (row: Row): SessionRecord => ({
  tokenHash: str(row.token_hash),
  userId: num(row.user_id),
  username: str(row.username),
  createdAtMs: num(row.created_at_ms),
  expiresAtMs: num(row.expires_at_ms),
});

const toRoom = (row: Row): RoomRecord => ({
  code: str(row.code),
  name: str(row.name),
  persistent: row.persistent === true,
  createdBy: str(row.created_by),
  createdAtMs: num(row.created_at_ms),
  destroyedAtMs: row.destroyed_at_ms === null ? null : num(row.destroyed_at_ms),
  lastSeq: big(row.last_seq),
});

const toMessage = (roomCode: string, row: Row): StoredMessage => ({
  roomCode,
  seq: big(row.seq),
  sender: str(row.sender),
  sentAtMs: num(row.sent_at_ms),
  text: str(row.text),
  clientMessageId: str(row.client_message_id),
});

const toDirect = (row: Row): StoredDirect => ({
  sender: str(row.sender),
  recipient: str(row.recipient),
  seq: big(row.seq),
  sentAtMs: num(row.sent_at_ms),
  text: str(row.text),
  clientMessageId: str(row.client_message_id),
});

/** The conversation of two users: their keys, in a fixed order so both directions share one row. */
const conversationOf = (userA: string, userB: string): readonly [string, string] => {
  const a = usernameKey(userA);
  const b = usernameKey(userB);
  return a <= b ? [a, b] : [b, a];
};

/** The SQLSTATE of a server-reported error, or a Node error code (ECONNREFUSED …) for a socket failure. */
const sqlState = (error: SqlError): string => {
  const code = (error.reason.cause as { code?: unknown } | null | undefined)?.code;
  return typeof code === "string" ? code : "";
};

/**
 * True when the database could not do the work but may later: unreachable or lost connection (class 08, socket
 * errors), shutting down or starting up (57P01-57P03), out of disk, memory or connections (class 53), I/O error
 * (class 58), a read-only standby (25006), a cancelled or timed-out statement (57014), and races that a retry
 * resolves (serialization failure 40001, deadlock 40P01, lock timeout 55P03).
 */
const isUnavailable = (error: SqlError): boolean => {
  switch (error.reason._tag) {
    case "ConnectionError":
    case "SerializationError":
    case "DeadlockError":
    case "LockTimeoutError":
    case "StatementTimeoutError":
      return true;
    default: {
      const state = sqlState(error);
      return /^(08|53|58|57P0[123]$|40|25006$|57014$)/.test(state);
    }
  }
};

/** A race with another node's transaction: rerunning the batch gives the right answer (e.g. the duplicate). */
const isRace = (error: unknown): boolean =>
  isSqlError(error) &&
  (error.reason._tag === "UniqueViolation" || error.reason._tag === "DeadlockError" || error.reason._tag === "SerializationError");

type AppendJob =
  | {
      readonly kind: "message";
      readonly input: NewMessage;
      readonly deferred: Deferred.Deferred<Appended<StoredMessage>, StoreFailure>;
    }
  | {
      readonly kind: "direct";
      readonly input: NewDirect;
      readonly deferred: Deferred.Deferred<Appended<StoredDirect>, StoreFailure>;
    };

/** The row an append locks: a batch takes its locks in this order on every node, so two batches never deadlock. */
const lockKey = (job: AppendJob): string =>
  job.kind === "message" ? `r ${job.input.roomCode}` : `d ${conversationOf(job.input.sender, job.input.recipient).join(" ")}`;

type Outcome = Exit.Exit<Appended<StoredMessage> | Appended<StoredDirect>, StoreFailure>;

/**
 * Builds the Store over a PostgreSQL pool: connects, applies pending migrations, then serves. The pool closes
 * with the scope, after the append worker stopped; appends still queued then fail with StoreError. Fails with
 * StorageUnavailable when the database cannot be reached at start.
 */
export const makePostgresStore = Effect.fnUntraced(function* (options: PostgresStoreOptions) {
  const retryAfterMs = options.retryAfterMs ?? 1000;
  const operationTimeoutMs = options.operationTimeoutMs ?? 5000;
  const maxBatch = options.maxBatch ?? 256;

  /** How a failed statement is reported to callers: see isUnavailable; anything else is a StoreError. */
  const failure = (operation: string, error: SqlError): StoreFailure =>
    isUnavailable(error)
      ? new StorageUnavailable({ operation, cause: error, retryAfterMs })
      : new StoreError({ operation, cause: error });

  /**
   * Bounds an operation in time and maps its SqlError (other errors pass through). A timed-out write may still
   * commit: it is never acked, and a retry with the same idempotency key finds it.
   */
  const guard =
    (operation: string) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | StoreFailure, R> =>
      (effect as Effect.Effect<A, unknown, R>).pipe(
        Effect.mapError((error) => (isSqlError(error) ? failure(operation, error) : error)),
        Effect.timeoutOrElse({
          duration: operationTimeoutMs,
          orElse: () =>
            Effect.fail(new StorageUnavailable({ operation, cause: `no answer within ${operationTimeoutMs} ms`, retryAfterMs })),
        }),
      ) as Effect.Effect<A, Exclude<E, SqlError> | StoreFailure, R>;

  const context = yield* Layer.build(
    PgClient.layer({
      url: Redacted.make(options.url),
      maxConnections: options.poolSize ?? 10,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      applicationName: "protochat",
    }),
  ).pipe(guard("open"));
  const sql = Context.get(context, SqlClient);
  yield* migrate.pipe(
    Effect.provideService(SqlClient, sql),
    Effect.mapError((error) =>
      error._tag === "MigrationError" && isSqlError(error.cause) ? error.cause : error._tag === "MigrationError" ? new StoreError({ operation: "migrate", cause: error }) : error,
    ),
    guard("migrate"),
  );

  const stats = { batches: 0, appends: 0, largestBatch: 0, retries: 0 };

  /**
   * One append as one statement. `existing` finds a retry (same idempotency key); otherwise `next` increments
   * the counter row (locking it until commit) and `inserted` stores the message with that seq. No row back means
   * an unknown room. A concurrent retry committed by another node after this statement's snapshot makes the
   * insert fail with a unique violation: the batch is then rerun and finds it in `existing`.
   */
  const appendMessageStatement = (m: NewMessage) => sql<Row>`
    WITH existing AS (
      SELECT seq, sender, sent_at_ms, text, client_message_id FROM messages
      WHERE room_code = ${m.roomCode} AND sender = ${m.sender} AND client_message_id = ${m.clientMessageId}
    ), next AS (
      UPDATE rooms SET last_seq = last_seq + 1
      WHERE code = ${m.roomCode} AND NOT EXISTS (SELECT 1 FROM existing)
      RETURNING last_seq
    ), inserted AS (
      INSERT INTO messages (room_code, seq, sender, sent_at_ms, text, client_message_id)
      SELECT ${m.roomCode}::text, last_seq, ${m.sender}::text, ${m.sentAtMs}::bigint, ${m.text}::text, ${m.clientMessageId}::text
      FROM next
      RETURNING seq, sender, sent_at_ms, text, client_message_id
    )
    SELECT *, false AS duplicate FROM inserted
    UNION ALL
    SELECT *, true AS duplicate FROM existing`;

  /** As appendMessageStatement, for a conversation: its counter row is created by the first message. */
  const appendDirectStatement = (d: NewDirect) => {
    const [a, b] = conversationOf(d.sender, d.recipient);
    const senderKey = usernameKey(d.sender);
    return sql<Row>`
      WITH existing AS (
        SELECT seq, sender, recipient, sent_at_ms, text, client_message_id FROM direct_messages
        WHERE user_a = ${a} AND user_b = ${b} AND sender_key = ${senderKey} AND client_message_id = ${d.clientMessageId}
      ), next AS (
        INSERT INTO conversations AS c (user_a, user_b, last_seq)
        SELECT ${a}::text, ${b}::text, 1 WHERE NOT EXISTS (SELECT 1 FROM existing)
        ON CONFLICT (user_a, user_b) DO UPDATE SET last_seq = c.last_seq + 1
        RETURNING last_seq
      ), inserted AS (
        INSERT INTO direct_messages (user_a, user_b, seq, sender, sender_key, recipient, sent_at_ms, text, client_message_id)
        SELECT ${a}::text, ${b}::text, last_seq, ${d.sender}::text, ${senderKey}::text, ${d.recipient}::text,
          ${d.sentAtMs}::bigint, ${d.text}::text, ${d.clientMessageId}::text
        FROM next
        RETURNING seq, sender, recipient, sent_at_ms, text, client_message_id
      )
      SELECT *, false AS duplicate FROM inserted
      UNION ALL
      SELECT *, true AS duplicate FROM existing`;
  };

  const appendOne = (job: AppendJob): Effect.Effect<Outcome, SqlError> =>
    job.kind === "message"
      ? Effect.map(appendMessageStatement(job.input), (rows): Outcome => {
          const row = rows[0];
          return row === undefined
            ? Exit.fail(new StoreError({ operation: "appendMessage", cause: "no such room" }))
            : Exit.succeed({ message: toMessage(job.input.roomCode, row), duplicate: row.duplicate === true });
        })
      : Effect.map(appendDirectStatement(job.input), (rows): Outcome => {
          const row = rows[0]!;
          return Exit.succeed({ message: toDirect(row), duplicate: row.duplicate === true });
        });

  const answer = (job: AppendJob, outcome: Outcome) =>
    Deferred.doneUnsafe(job.deferred as Deferred.Deferred<unknown, StoreFailure>, outcome);

  /**
   * Writes a batch in one transaction; callers are answered only after COMMIT returned. A race with another
   * node reruns the batch; any other failure of a statement reruns each append alone, so one bad append fails
   * only its caller; an unavailable database fails every caller of the batch with StorageUnavailable.
   */
  const writeBatch = (jobs: ReadonlyArray<AppendJob>, attempt: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      stats.batches++;
      stats.appends += jobs.length;
      stats.largestBatch = Math.max(stats.largestBatch, jobs.length);
      return sql.withTransaction(Effect.forEach(jobs, appendOne)).pipe(
        guard("append"),
        Effect.matchEffect({
          onSuccess: (outcomes) => Effect.sync(() => jobs.forEach((job, index) => answer(job, outcomes[index]!))),
          onFailure: (error) => {
            if (isRace(error.cause) && attempt < MAX_ATTEMPTS) {
              stats.retries++;
              return writeBatch(jobs, attempt + 1);
            }
            if (error._tag === "StoreError" && jobs.length > 1) {
              return Effect.forEach(jobs, (job) => writeBatch([job], attempt), { discard: true });
            }
            const failed = Exit.fail(
              isRace(error.cause) ? new StorageUnavailable({ operation: "append", cause: error.cause, retryAfterMs }) : error,
            );
            return Effect.sync(() => jobs.forEach((job) => answer(job, failed)));
          },
        }),
      );
    });

  const queue = yield* Queue.unbounded<AppendJob>();
  let closed = false;
  // Runs after the worker is interrupted (finalizers run in reverse): nobody waits forever on a closed store.
  yield* Effect.addFinalizer(() =>
    Effect.gen(function* () {
      closed = true;
      const left = yield* Queue.clear(queue);
      const failed = Exit.fail(new StoreError({ operation: "append", cause: "store closed" }));
      for (const job of left) answer(job, failed);
    }),
  );
  // Everything queued while the previous batch was being written becomes the next batch, sorted by the row it
  // locks (stable: one room's appends keep their arrival order). Taking and writing a batch is uninterruptible
  // so taken jobs are always answered; the operation timeout bounds it.
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.uninterruptibleMask((restore) =>
        restore(Queue.takeBetween(queue, 1, maxBatch)).pipe(
          Effect.flatMap((jobs) => {
            const keyed = jobs.map((job) => [lockKey(job), job] as const);
            keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
            return writeBatch(keyed.map(([, job]) => job), 1);
          }),
        ),
      ),
    ),
  );

  const groupCommit = options.groupCommit ?? true;
  const enqueue = <A>(job: (deferred: Deferred.Deferred<A, StoreFailure>) => AppendJob, operation: string) =>
    Effect.suspend(() => {
      if (closed) return Effect.fail(new StoreError({ operation, cause: "store closed" }));
      const deferred = Deferred.makeUnsafe<A, StoreFailure>();
      if (!groupCommit) return Effect.andThen(Effect.uninterruptible(writeBatch([job(deferred)], 1)), Deferred.await(deferred));
      Queue.offerUnsafe(queue, job(deferred));
      return Deferred.await(deferred);
    });

  /** Reads `limit + 1` rows nearest the anchor to learn whether more exist, then returns them ascending. */
  const page = <A>(
    query: PageQuery,
    backward: (anchor: bigint, take: number) => Effect.Effect<ReadonlyArray<Row>, SqlError>,
    forward: (anchor: bigint, take: number) => Effect.Effect<ReadonlyArray<Row>, SqlError>,
    decode: (row: Row) => A,
  ): Effect.Effect<Page<A>, SqlError> => {
    const limit = Math.max(1, Math.floor(query.limit));
    // Anchors come from the wire as uint64; bigint is int64. No seq comes near it, so a larger anchor means the
    // same as the largest: before everything (backward), after everything (forward).
    const anchorSeq = query.anchorSeq > NEWEST ? NEWEST : query.anchorSeq;
    if (query.direction === "backward") {
      return Effect.map(backward(anchorSeq === 0n ? NEWEST : anchorSeq, limit + 1), (rows) => ({
        messages: rows.slice(0, limit).map(decode).reverse(),
        hasMore: rows.length > limit,
      }));
    }
    return Effect.map(forward(anchorSeq, limit + 1), (rows) => ({
      messages: rows.slice(0, limit).map(decode),
      hasMore: rows.length > limit,
    }));
  };

  const isUniqueViolation = (error: unknown): boolean => isSqlError(error) && error.reason._tag === "UniqueViolation";

  const store = Store.of({
    createUser: Effect.fn("Store.createUser")(function* (input) {
      const rows = yield* sql<Row>`
        INSERT INTO users (username, username_key, password_hash, created_at_ms)
        VALUES (${input.username}, ${input.usernameKey}, ${input.passwordHash}, ${input.createdAtMs})
        RETURNING *`.pipe(
        Effect.catchIf(isUniqueViolation, () => Effect.fail(new UsernameTaken())),
        guard("createUser"),
      );
      return toUser(rows[0]!);
    }),
    findUser: Effect.fn("Store.findUser")(function* (key) {
      const rows = yield* sql<Row>`SELECT * FROM users WHERE username_key = ${key}`.pipe(guard("findUser"));
      return rows[0] === undefined ? undefined : toUser(rows[0]);
    }),
    createSession: Effect.fn("Store.createSession")(function* (session) {
      yield* sql
        .withTransaction(
          Effect.andThen(
            // Expired sessions are swept per user at each new session, so the table stays bounded without a timer.
            sql`DELETE FROM sessions WHERE user_id = ${session.userId} AND expires_at_ms <= ${session.createdAtMs}`,
            sql`INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms)
              VALUES (${session.tokenHash}, ${session.userId}, ${session.createdAtMs}, ${session.expiresAtMs})`,
          ),
        )
        .pipe(guard("createSession"));
    }),
    findSession: Effect.fn("Store.findSession")(function* (tokenHash) {
      const rows = yield* sql<Row>`
        SELECT s.token_hash, s.user_id, u.username, s.created_at_ms, s.expires_at_ms
        FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ${tokenHash}`.pipe(guard("findSession"));
      return rows[0] === undefined ? undefined : toSession(rows[0]);
    }),
    revokeSession: Effect.fn("Store.revokeSession")(function* (tokenHash) {
      yield* sql`DELETE FROM sessions WHERE token_hash = ${tokenHash}`.pipe(guard("revokeSession"));
    }),
    createRoom: Effect.fn("Store.createRoom")(function* (room) {
      const rows = yield* sql<Row>`
        INSERT INTO rooms (code, name, persistent, created_by, created_at_ms)
        VALUES (${room.code}, ${room.name}, ${room.persistent}, ${room.createdBy}, ${room.createdAtMs})
        RETURNING *`.pipe(
        Effect.catchIf(isUniqueViolation, () => Effect.fail(new RoomCodeTaken())),
        guard("createRoom"),
      );
      return toRoom(rows[0]!);
    }),
    findRoom: Effect.fn("Store.findRoom")(function* (code) {
      const rows = yield* sql<Row>`SELECT * FROM rooms WHERE code = ${code}`.pipe(guard("findRoom"));
      return rows[0] === undefined ? undefined : toRoom(rows[0]);
    }),
    destroyRoom: Effect.fn("Store.destroyRoom")(function* (code, atMs) {
      yield* sql`UPDATE rooms SET destroyed_at_ms = ${atMs} WHERE code = ${code} AND destroyed_at_ms IS NULL`.pipe(
        guard("destroyRoom"),
      );
    }),
    listPersistentRooms: Effect.fn("Store.listPersistentRooms")(function* (limit) {
      const rows = yield* sql<Row>`
        SELECT * FROM rooms WHERE persistent AND destroyed_at_ms IS NULL ORDER BY name, code LIMIT ${limit}`.pipe(
        guard("listPersistentRooms"),
      );
      return rows.map(toRoom);
    }),
    countPersistentRooms: Effect.fn("Store.countPersistentRooms")(function* (createdBy) {
      const rows = yield* sql<Row>`
        SELECT count(*) AS n FROM rooms WHERE persistent AND destroyed_at_ms IS NULL AND created_by = ${createdBy}`.pipe(
        guard("countPersistentRooms"),
      );
      return num(rows[0]!.n);
    }),
    listTemporaryRooms: Effect.fn("Store.listTemporaryRooms")(function* (limit) {
      const rows = yield* sql<Row>`
        SELECT * FROM rooms WHERE NOT persistent AND destroyed_at_ms IS NULL ORDER BY code LIMIT ${limit}`.pipe(
        guard("listTemporaryRooms"),
      );
      return rows.map(toRoom);
    }),
    // Untraced: one per message (a traced Effect.fn captures a stack trace and opens a span per call).
    appendMessage: (input) =>
      enqueue<Appended<StoredMessage>>((deferred) => ({ kind: "message", input, deferred }), "appendMessage"),
    readMessages: Effect.fn("Store.readMessages")(function* (roomCode, query) {
      return yield* page(
        query,
        (anchor, take) =>
          sql<Row>`SELECT * FROM messages WHERE room_code = ${roomCode} AND seq < ${anchor} ORDER BY seq DESC LIMIT ${take}`,
        (anchor, take) =>
          sql<Row>`SELECT * FROM messages WHERE room_code = ${roomCode} AND seq > ${anchor} ORDER BY seq ASC LIMIT ${take}`,
        (row) => toMessage(roomCode, row),
      ).pipe(guard("readMessages"));
    }),
    appendDirect: Effect.fn("Store.appendDirect")(function* (input) {
      return yield* enqueue<Appended<StoredDirect>>((deferred) => ({ kind: "direct", input, deferred }), "appendDirect");
    }),
    readDirect: Effect.fn("Store.readDirect")(function* (userA, userB, query) {
      const [a, b] = conversationOf(userA, userB);
      return yield* page(
        query,
        (anchor, take) => sql<Row>`
          SELECT * FROM direct_messages WHERE user_a = ${a} AND user_b = ${b} AND seq < ${anchor}
          ORDER BY seq DESC LIMIT ${take}`,
        (anchor, take) => sql<Row>`
          SELECT * FROM direct_messages WHERE user_a = ${a} AND user_b = ${b} AND seq > ${anchor}
          ORDER BY seq ASC LIMIT ${take}`,
        toDirect,
      ).pipe(guard("readDirect"));
    }),
  });

  return { store, stats: (): PostgresStoreStats => ({ ...stats }) };
});

export const PostgresStore = {
  /** Builds the store and exposes its batch counters (benchmarks and tests). Scoped. */
  make: makePostgresStore,
  /** The Store over a PostgreSQL database; the pool closes when the layer's scope closes. */
  layer: (options: PostgresStoreOptions): Layer.Layer<Store, StoreFailure> =>
    Layer.effect(Store, Effect.map(makePostgresStore(options), ({ store }) => store)),
} as const;
