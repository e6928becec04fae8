// The shared Store for several nodes: PostgreSQL through @effect/sql-pg's pool, parameterized statements only.
// A room's seq is its `rooms.last_seq` counter row, incremented in the append's own transaction, so seqs stay
// gap-free from 1 whichever node appends; appends of the same node are group-committed (one transaction per batch).
import { PgClient, PgTypes } from "@effect/sql-pg";
import { Context, Deferred, Effect, Exit, Layer, Queue, Redacted, Result } from "effect";
import { SqlClient } from "effect/sql/SqlClient";
import { isSqlError, type SqlError } from "effect/sql/SqlError";
import {
  type LimitExceeded,
  type NotFound,
  type PermissionDenied,
  RoomCodeTaken,
  StorageUnavailable,
  StoreError,
  UsernameTaken,
} from "../errors.ts";
import { migrate } from "./postgres-migrations.ts";
import {
  ACTION_CODES,
  actionCode,
  type Appended,
  type EventState,
  freshState,
  groupReactions,
  type NewAction,
  type NewDirectAction,
  type NewRoomAction,
  quoteText,
  refuseAction,
  type NewDirect,
  type NewMessage,
  type Page,
  type PageQuery,
  type RoomRecord,
  Store,
  type StoredDirect,
  StorageHealth,
  type StorageStatus,
  type StoredMessage,
  usernameKey,
} from "./store.ts";
import { num, type Row, str, toSession, toUser } from "./rows.ts";

type StoreFailure = StoreError | StorageUnavailable;

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
  /** While storage is unavailable, a probe commit runs this often to notice recovery (default 1000 ms). */
  readonly probeIntervalMs?: number;
  /** While available, a probe commit runs when nothing succeeded for this long (default 5000 ms). */
  readonly idleProbeMs?: number;
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

const big = (value: unknown): bigint => (typeof value === "bigint" ? value : BigInt(num(value)));

const toRoom = (row: Row): RoomRecord => ({
  code: str(row.code),
  name: str(row.name),
  persistent: row.persistent === true,
  createdBy: str(row.created_by),
  createdAtMs: num(row.created_at_ms),
  destroyedAtMs: row.destroyed_at_ms === null ? null : num(row.destroyed_at_ms),
  lastSeq: big(row.last_seq),
});

/** The event columns of a row (and, when the read joined it, the quoted message as q_*); reactions come apart. */
const toState = (row: Row): EventState => {
  const kind = ACTION_CODES[num(row.kind ?? 0)];
  const target = big(row.target_seq ?? 0);
  return {
    replyToSeq: kind === undefined ? target : 0n,
    replyQuote:
      kind === undefined && target > 0n && row.q_sender !== undefined && row.q_sender !== null
        ? { sender: str(row.q_sender), text: quoteText(str(row.q_text)), deleted: row.q_deleted === true }
        : undefined,
    action: kind === undefined ? undefined : { kind, targetSeq: target, emoji: str(row.emoji ?? "") },
    editedAtMs: num(row.edited_at_ms ?? 0),
    deleted: row.deleted === true,
    reactions: [],
    stateSeq: big(row.state_seq ?? 0),
  };
};

const toMessage = (roomCode: string, row: Row): StoredMessage => ({
  roomCode,
  seq: big(row.seq),
  sender: str(row.sender),
  sentAtMs: num(row.sent_at_ms),
  text: str(row.text),
  clientMessageId: str(row.client_message_id),
  ...toState(row),
});

const toDirect = (row: Row): StoredDirect => ({
  sender: str(row.sender),
  recipient: str(row.recipient),
  seq: big(row.seq),
  sentAtMs: num(row.sent_at_ms),
  text: str(row.text),
  clientMessageId: str(row.client_message_id),
  ...toState(row),
});

type ActionFailure = NotFound | PermissionDenied | LimitExceeded | StoreFailure;

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
 * True for a string PostgreSQL text cannot hold (U+0000). No stored key contains one (callers refuse it in
 * what they store), so a look-up by such a key finds nothing, as on SQLite, instead of failing.
 */
const unstorable = (key: string): boolean => key.includes("\u0000");

/** One line for operators: the database's or the socket's own message and its code (no user data in either). */
const describe = (cause: unknown): string => {
  if (!isSqlError(cause)) return String(cause);
  const inner = cause.reason.cause as { message?: unknown; code?: unknown } | null | undefined;
  const message = typeof inner?.message === "string" ? inner.message : (cause.reason.message ?? cause.reason._tag);
  return typeof inner?.code === "string" ? `${message} (${inner.code})` : message;
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

  // Health as last observed: every operation that succeeded clears it, every StorageUnavailable sets it.
  let status: StorageStatus = { _tag: "Available" };
  let lastSuccessMs = Date.now();
  const succeeded = () => {
    lastSuccessMs = Date.now();
    if (status._tag !== "Available") status = { _tag: "Available" };
  };
  const unavailable = (operation: string, cause: unknown): StorageUnavailable => {
    status = { _tag: "Unavailable", reason: describe(cause), sinceMs: status._tag === "Unavailable" ? status.sinceMs : Date.now() };
    return new StorageUnavailable({ operation, cause, retryAfterMs });
  };

  /** How a failed statement is reported to callers: see isUnavailable; anything else is a StoreError. */
  const failure = (operation: string, error: SqlError): StoreFailure =>
    isUnavailable(error) ? unavailable(operation, error) : new StoreError({ operation, cause: error });

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
          orElse: () => Effect.fail(unavailable(operation, `no answer within ${operationTimeoutMs} ms`)),
        }),
        Effect.tap(() => Effect.sync(succeeded)),
      ) as Effect.Effect<A, Exclude<E, SqlError> | StoreFailure, R>;

  /** A start-up failure names the database (never its credentials) and the driver's or server's reason. */
  const where = (() => {
    const url = new URL(options.url);
    return `PostgreSQL at ${url.host}${url.pathname}`;
  })();
  const atStart = (error: StoreFailure): StoreFailure => {
    const cause = new Error(`${where}: ${describe(error.cause)}`, { cause: error.cause });
    return error._tag === "StorageUnavailable" ? new StorageUnavailable({ ...error, cause }) : new StoreError({ ...error, cause });
  };

  const context = yield* Layer.build(
    PgClient.layer({
      url: Redacted.make(options.url),
      maxConnections: options.poolSize ?? 10,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      applicationName: "protochat",
    }),
  ).pipe(guard("open"), Effect.mapError(atStart));
  const sql = Context.get(context, SqlClient);
  yield* migrate.pipe(
    Effect.provideService(SqlClient, sql),
    Effect.mapError((error) =>
      error._tag === "MigrationError" && isSqlError(error.cause)
        ? error.cause
        : error._tag === "MigrationError"
          ? new StoreError({ operation: "migrate", cause: error })
          : error,
    ),
    guard("migrate"),
    Effect.mapError(atStart),
  );

  const stats = { batches: 0, appends: 0, largestBatch: 0, retries: 0 };

  /** A one-dimensional array parameter (text[] or int8[]). */
  const arrayOf = (values: ReadonlyArray<unknown>, oid: number) => {
    const encoded = PgTypes.array(values, oid);
    if (Result.isFailure(encoded)) throw encoded.failure;
    return encoded.success;
  };

  /**
   * Room appends of a batch (distinct idempotency keys, sorted by room) as ONE statement, so a batch costs one
   * round trip whatever its size. `locked` locks the batch's room rows in code order (every node takes them in the
   * same order: no deadlock) and reads their newest last_seq; `existing` finds retries; `fresh` numbers the new
   * messages per room in arrival order; `bumped` moves each counter past them; `inserted` stores them. A row
   * comes back per stored or found message, keyed by `ord` (1-based position in the input); none for an unknown
   * room. A retry committed by another node after this statement's snapshot makes the insert fail with a unique
   * violation: the batch is then rerun and finds it in `existing`.
   */
  const appendMessagesStatement = (messages: ReadonlyArray<NewMessage>) => sql<Row>`
    WITH input AS (
      SELECT * FROM unnest(
        ${arrayOf(
          messages.map((m) => m.roomCode),
          PgTypes.OID.text,
        )}::text[],
        ${arrayOf(
          messages.map((m) => m.sender),
          PgTypes.OID.text,
        )}::text[],
        ${arrayOf(
          messages.map((m) => m.clientMessageId),
          PgTypes.OID.text,
        )}::text[],
        ${arrayOf(
          messages.map((m) => BigInt(Math.trunc(m.sentAtMs))),
          PgTypes.OID.int8,
        )}::bigint[],
        ${arrayOf(
          messages.map((m) => m.text),
          PgTypes.OID.text,
        )}::text[],
        ${arrayOf(
          messages.map((m) => m.replyToSeq ?? 0n),
          PgTypes.OID.int8,
        )}::bigint[]
      ) WITH ORDINALITY AS t (room_code, sender, client_message_id, sent_at_ms, text, target_seq, ord)
    ), locked AS (
      SELECT code, last_seq FROM rooms WHERE code IN (SELECT room_code FROM input) ORDER BY code FOR UPDATE
    ), existing AS (
      SELECT i.ord, m.seq, m.sender, m.sent_at_ms, m.text, m.client_message_id, m.kind, m.target_seq, m.emoji,
        m.edited_at_ms, m.deleted, m.state_seq
      FROM input i JOIN messages m
        ON m.room_code = i.room_code AND m.sender = i.sender AND m.client_message_id = i.client_message_id
    ), fresh AS (
      SELECT i.*, l.last_seq + row_number() OVER (PARTITION BY i.room_code ORDER BY i.ord) AS seq
      FROM input i JOIN locked l ON l.code = i.room_code
      WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.ord = i.ord)
    ), bumped AS (
      UPDATE rooms r SET last_seq = f.last
      FROM (SELECT room_code, max(seq) AS last FROM fresh GROUP BY room_code) f
      WHERE r.code = f.room_code
    ), inserted AS (
      INSERT INTO messages (room_code, seq, sender, sent_at_ms, text, client_message_id, target_seq)
      SELECT room_code, seq, sender, sent_at_ms, text, client_message_id, target_seq FROM fresh
    )
    SELECT ord, seq, sender, sent_at_ms, text, client_message_id, 0 AS kind, target_seq, '' AS emoji,
      0::bigint AS edited_at_ms, false AS deleted, 0::bigint AS state_seq, false AS duplicate FROM fresh
    UNION ALL
    SELECT *, true AS duplicate FROM existing`;

  /**
   * One direct message as one statement: `existing` finds a retry; otherwise `next` creates or increments the
   * conversation's counter row (locking it until commit) and `inserted` stores the message with that seq. A
   * concurrent retry committed by another node makes the insert fail with a unique violation (batch rerun).
   */
  const appendDirectStatement = (d: NewDirect) => {
    const [a, b] = conversationOf(d.sender, d.recipient);
    const senderKey = usernameKey(d.sender);
    return sql<Row>`
      WITH existing AS (
        SELECT seq, sender, recipient, sent_at_ms, text, client_message_id, kind, target_seq, emoji, edited_at_ms,
          deleted, state_seq
        FROM direct_messages
        WHERE user_a = ${a} AND user_b = ${b} AND sender_key = ${senderKey} AND client_message_id = ${d.clientMessageId}
      ), next AS (
        INSERT INTO conversations AS c (user_a, user_b, last_seq)
        SELECT ${a}::text, ${b}::text, 1 WHERE NOT EXISTS (SELECT 1 FROM existing)
        ON CONFLICT (user_a, user_b) DO UPDATE SET last_seq = c.last_seq + 1
        RETURNING last_seq
      ), inserted AS (
        INSERT INTO direct_messages (user_a, user_b, seq, sender, sender_key, recipient, sent_at_ms, text, client_message_id, target_seq)
        SELECT ${a}::text, ${b}::text, last_seq, ${d.sender}::text, ${senderKey}::text, ${d.recipient}::text,
          ${d.sentAtMs}::bigint, ${d.text}::text, ${d.clientMessageId}::text, ${d.replyToSeq ?? 0n}::bigint
        FROM next
        RETURNING seq, sender, recipient, sent_at_ms, text, client_message_id, kind, target_seq, emoji, edited_at_ms,
          deleted, state_seq
      )
      SELECT *, false AS duplicate FROM inserted
      UNION ALL
      SELECT *, true AS duplicate FROM existing`;
  };

  /**
   * The outcomes of a batch's appends, in the batch's order: its room messages in one statement, then its
   * direct messages one statement each (in conversation order). A job repeating an earlier job's idempotency
   * key gets that job's message as a duplicate.
   */
  const appendAll = (jobs: ReadonlyArray<AppendJob>): Effect.Effect<ReadonlyArray<Outcome>, SqlError> =>
    Effect.gen(function* () {
      const outcomes: Array<Outcome | undefined> = jobs.map(() => undefined);
      const firstOf = new Map<string, number>();
      const repeats: Array<[index: number, first: number]> = [];
      const rooms: Array<number> = [];
      jobs.forEach((job, index) => {
        if (job.kind !== "message") return;
        const key = JSON.stringify([job.input.roomCode, job.input.sender, job.input.clientMessageId]);
        const first = firstOf.get(key);
        if (first === undefined) {
          firstOf.set(key, index);
          rooms.push(index);
        } else repeats.push([index, first]);
      });
      if (rooms.length > 0) {
        const rows = yield* appendMessagesStatement(rooms.map((index) => jobs[index]!.input as NewMessage));
        for (const row of rows) {
          const index = rooms[num(row.ord) - 1]!;
          const input = jobs[index]!.input as NewMessage;
          outcomes[index] = Exit.succeed({ message: toMessage(input.roomCode, row), duplicate: row.duplicate === true });
        }
        for (const index of rooms) {
          outcomes[index] ??= Exit.fail(new StoreError({ operation: "appendMessage", cause: "no such room" }));
        }
      }
      for (const [index, job] of jobs.entries()) {
        if (job.kind !== "direct") continue;
        const rows = yield* appendDirectStatement(job.input);
        const row = rows[0]!;
        outcomes[index] = Exit.succeed({ message: toDirect(row), duplicate: row.duplicate === true });
      }
      for (const [index, first] of repeats) {
        const outcome = outcomes[first]!;
        outcomes[index] = Exit.isSuccess(outcome) ? (Exit.succeed({ ...outcome.value, duplicate: true }) as Outcome) : outcome;
      }
      return outcomes as ReadonlyArray<Outcome>;
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
      // One statement commits by itself; direct messages add statements, so they need the transaction.
      const write = jobs.some((job) => job.kind === "direct") ? sql.withTransaction(appendAll(jobs)) : appendAll(jobs);
      return write.pipe(
        guard("append"),
        // A statement that could not even be built (a value the driver cannot encode) fails its batch, not the worker.
        Effect.catchDefect((defect) => Effect.fail(new StoreError({ operation: "append", cause: defect }))),
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
  // Everything queued while the previous batch was being written becomes the next batch, grouped by the row it
  // locks (a stable sort: one room's appends keep their arrival order, and so their seq order). A batch locks its
  // rooms in code order, then its conversations in key order, on every node alike. Taking and writing a batch is
  // uninterruptible so taken jobs are always answered; the operation timeout bounds it.
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.uninterruptibleMask((restore) =>
        restore(Queue.takeBetween(queue, 1, maxBatch)).pipe(
          Effect.flatMap((jobs) => {
            const keyed = jobs.map((job) => [lockKey(job), job] as const);
            keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
            return writeBatch(
              keyed.map(([, job]) => job),
              1,
            );
          }),
        ),
      ),
    ),
  );

  // The probe: while unavailable, a commit every probeIntervalMs so health recovers by itself once the database
  // is back (no user traffic needed); while available, one after idleProbeMs without any success, so an outage
  // during a quiet time shows in /readyz before a user's send finds out. Changes are logged once each.
  const probeIntervalMs = options.probeIntervalMs ?? 1000;
  const idleProbeMs = options.idleProbeMs ?? 5000;
  let reported: StorageStatus = status;
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.sleep(probeIntervalMs).pipe(
        Effect.andThen(
          Effect.suspend(() => {
            const due = status._tag === "Unavailable" || Date.now() - lastSuccessMs >= idleProbeMs;
            return due
              ? Effect.ignore(sql`UPDATE store_probe SET probed_at_ms = ${Date.now()} WHERE id = 1`.pipe(guard("probe")))
              : Effect.void;
          }),
        ),
        Effect.andThen(
          Effect.suspend(() => {
            if (status._tag === reported._tag) return Effect.void;
            reported = status;
            return status._tag === "Unavailable"
              ? Effect.logWarning("storage unavailable: writes fail with UNAVAILABLE", { reason: status.reason })
              : Effect.logInfo("storage available again");
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

  /** An action event's own fields: it carries no state of its own. */
  const actionState = (input: NewAction): EventState => ({
    ...freshState(0n),
    action: { kind: input.kind, targetSeq: input.targetSeq, emoji: input.emoji },
  });

  /**
   * Runs an action's transaction; a race with another node (a retry of the same key committed meanwhile, a
   * deadlock) reruns it, so the rerun finds the stored event. Actions are rare next to messages: no group commit.
   */
  const withRetry = <A>(operation: string, transaction: Effect.Effect<A, ActionFailure | SqlError>): Effect.Effect<A, ActionFailure> => {
    const run = (attempt: number): Effect.Effect<A, ActionFailure> =>
      sql.withTransaction(transaction).pipe(
        Effect.catchIf(
          (error) => isRace(error) && attempt < MAX_ATTEMPTS,
          () => Effect.suspend(() => run(attempt + 1)),
        ),
        Effect.mapError((error) => (isRace(error) ? new StorageUnavailable({ operation, cause: error, retryAfterMs }) : error)),
        guard(operation),
      ) as Effect.Effect<A, ActionFailure>;
    return run(1);
  };

  /**
   * A room action: `FOR UPDATE` on the room row serialises it with every append to the room on every node, then
   * the target is checked, the event takes the next seq and the target row (or its reactions) is updated.
   */
  const roomAction = (input: NewRoomAction) =>
    withRetry(
      "appendRoomAction",
      Effect.gen(function* () {
        const existing = yield* sql<Row>`
          SELECT * FROM messages WHERE room_code = ${input.roomCode} AND sender = ${input.sender}
          AND client_message_id = ${input.clientMessageId}`;
        if (existing[0] !== undefined) return { message: toMessage(input.roomCode, existing[0]), duplicate: true };
        const locked = yield* sql<Row>`SELECT last_seq FROM rooms WHERE code = ${input.roomCode} FOR UPDATE`;
        if (locked[0] === undefined) return yield* new StoreError({ operation: "appendRoomAction", cause: "no such room" });
        const target = yield* sql<Row>`
          SELECT kind, sender, deleted FROM messages WHERE room_code = ${input.roomCode} AND seq = ${input.targetSeq}`;
        const facts = yield* sql<Row>`
          SELECT count(DISTINCT emoji) AS distinct_emoji, count(*) FILTER (WHERE emoji = ${input.emoji}) AS present
          FROM reactions WHERE room_code = ${input.roomCode} AND target_seq = ${input.targetSeq}`;
        const refused = refuseAction(
          input,
          target[0] === undefined
            ? undefined
            : { kind: num(target[0].kind), senderKey: usernameKey(str(target[0].sender)), deleted: target[0].deleted === true },
          { present: num(facts[0]!.present) > 0, distinct: num(facts[0]!.distinct_emoji) },
        );
        if (refused !== undefined) return yield* refused;
        const seq = big(locked[0].last_seq) + 1n;
        yield* sql`UPDATE rooms SET last_seq = ${seq} WHERE code = ${input.roomCode}`;
        yield* sql`
          INSERT INTO messages (room_code, seq, sender, sent_at_ms, text, client_message_id, kind, target_seq, emoji)
          VALUES (${input.roomCode}, ${seq}, ${input.sender}, ${input.sentAtMs}, ${input.text}, ${input.clientMessageId},
            ${actionCode(input.kind)}, ${input.targetSeq}, ${input.emoji})`;
        const where = sql`room_code = ${input.roomCode} AND seq = ${input.targetSeq}`;
        switch (input.kind) {
          case "edit":
            yield* sql`UPDATE messages SET text = ${input.text}, edited_at_ms = ${input.sentAtMs}, state_seq = ${seq} WHERE ${where}`;
            break;
          case "delete":
            yield* sql`UPDATE messages SET text = '', deleted = true, state_seq = ${seq} WHERE ${where}`;
            yield* sql`UPDATE messages SET text = '' WHERE room_code = ${input.roomCode} AND target_seq = ${input.targetSeq} AND kind = 1`;
            yield* sql`DELETE FROM reactions WHERE room_code = ${input.roomCode} AND target_seq = ${input.targetSeq}`;
            break;
          case "reaction-add":
            yield* sql`INSERT INTO reactions (room_code, target_seq, emoji, username, seq)
              VALUES (${input.roomCode}, ${input.targetSeq}, ${input.emoji}, ${input.sender}, ${seq}) ON CONFLICT DO NOTHING`;
            yield* sql`UPDATE messages SET state_seq = ${seq} WHERE ${where}`;
            break;
          case "reaction-remove":
            yield* sql`DELETE FROM reactions WHERE room_code = ${input.roomCode} AND target_seq = ${input.targetSeq}
              AND emoji = ${input.emoji} AND username = ${input.sender}`;
            yield* sql`UPDATE messages SET state_seq = ${seq} WHERE ${where}`;
            break;
        }
        const message: StoredMessage = {
          roomCode: input.roomCode,
          seq,
          sender: input.sender,
          sentAtMs: input.sentAtMs,
          text: input.text,
          clientMessageId: input.clientMessageId,
          ...actionState(input),
        };
        return { message, duplicate: false };
      }),
    );

  /** As roomAction, in a conversation: its counter row (which the target's existence implies) is the lock. */
  const directAction = (input: NewDirectAction) =>
    withRetry(
      "appendDirectAction",
      Effect.gen(function* () {
        const [a, b] = conversationOf(input.sender, input.recipient);
        const senderKey = usernameKey(input.sender);
        const existing = yield* sql<Row>`
          SELECT * FROM direct_messages WHERE user_a = ${a} AND user_b = ${b} AND sender_key = ${senderKey}
          AND client_message_id = ${input.clientMessageId}`;
        if (existing[0] !== undefined) return { message: toDirect(existing[0]), duplicate: true };
        const locked = yield* sql<Row>`SELECT last_seq FROM conversations WHERE user_a = ${a} AND user_b = ${b} FOR UPDATE`;
        const target = yield* sql<Row>`
          SELECT kind, sender_key, deleted FROM direct_messages WHERE user_a = ${a} AND user_b = ${b} AND seq = ${input.targetSeq}`;
        const facts = yield* sql<Row>`
          SELECT count(DISTINCT emoji) AS distinct_emoji, count(*) FILTER (WHERE emoji = ${input.emoji}) AS present
          FROM direct_reactions WHERE user_a = ${a} AND user_b = ${b} AND target_seq = ${input.targetSeq}`;
        const refused = refuseAction(
          input,
          target[0] === undefined || locked[0] === undefined
            ? undefined
            : { kind: num(target[0].kind), senderKey: str(target[0].sender_key), deleted: target[0].deleted === true },
          { present: num(facts[0]!.present) > 0, distinct: num(facts[0]!.distinct_emoji) },
        );
        if (refused !== undefined) return yield* refused;
        const seq = big(locked[0]!.last_seq) + 1n;
        yield* sql`UPDATE conversations SET last_seq = ${seq} WHERE user_a = ${a} AND user_b = ${b}`;
        yield* sql`
          INSERT INTO direct_messages (user_a, user_b, seq, sender, sender_key, recipient, sent_at_ms, text, client_message_id, kind, target_seq, emoji)
          VALUES (${a}, ${b}, ${seq}, ${input.sender}, ${senderKey}, ${input.recipient}, ${input.sentAtMs}, ${input.text},
            ${input.clientMessageId}, ${actionCode(input.kind)}, ${input.targetSeq}, ${input.emoji})`;
        const where = sql`user_a = ${a} AND user_b = ${b} AND seq = ${input.targetSeq}`;
        switch (input.kind) {
          case "edit":
            yield* sql`UPDATE direct_messages SET text = ${input.text}, edited_at_ms = ${input.sentAtMs}, state_seq = ${seq} WHERE ${where}`;
            break;
          case "delete":
            yield* sql`UPDATE direct_messages SET text = '', deleted = true, state_seq = ${seq} WHERE ${where}`;
            yield* sql`UPDATE direct_messages SET text = '' WHERE user_a = ${a} AND user_b = ${b} AND target_seq = ${input.targetSeq} AND kind = 1`;
            yield* sql`DELETE FROM direct_reactions WHERE user_a = ${a} AND user_b = ${b} AND target_seq = ${input.targetSeq}`;
            break;
          case "reaction-add":
            yield* sql`INSERT INTO direct_reactions (user_a, user_b, target_seq, emoji, username, seq)
              VALUES (${a}, ${b}, ${input.targetSeq}, ${input.emoji}, ${input.sender}, ${seq}) ON CONFLICT DO NOTHING`;
            yield* sql`UPDATE direct_messages SET state_seq = ${seq} WHERE ${where}`;
            break;
          case "reaction-remove":
            yield* sql`DELETE FROM direct_reactions WHERE user_a = ${a} AND user_b = ${b} AND target_seq = ${input.targetSeq}
              AND emoji = ${input.emoji} AND username = ${input.sender}`;
            yield* sql`UPDATE direct_messages SET state_seq = ${seq} WHERE ${where}`;
            break;
        }
        const message: StoredDirect = {
          sender: input.sender,
          recipient: input.recipient,
          seq,
          sentAtMs: input.sentAtMs,
          text: input.text,
          clientMessageId: input.clientMessageId,
          ...actionState(input),
        };
        return { message, duplicate: false };
      }),
    );

  /** Fills each plain message of a page with its reactions (one range read over the page's seqs). */
  const withReactions =
    <A extends { readonly seq: bigint }>(read: (from: bigint, to: bigint) => Effect.Effect<ReadonlyArray<Row>, SqlError>) =>
    (result: Page<A>): Effect.Effect<Page<A>, SqlError> => {
      const first = result.messages[0];
      const last = result.messages.at(-1);
      if (first === undefined || last === undefined) return Effect.succeed(result);
      return Effect.map(read(first.seq, last.seq), (rows) => {
        if (rows.length === 0) return result;
        const grouped = groupReactions(
          rows.map((row) => ({ targetSeq: big(row.target_seq), emoji: str(row.emoji), username: str(row.username) })),
        );
        return { ...result, messages: result.messages.map((m) => (grouped.has(m.seq) ? { ...m, reactions: grouped.get(m.seq)! } : m)) };
      });
    };

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
      if (unstorable(key)) return undefined;
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
      if (unstorable(tokenHash)) return undefined;
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
      if (unstorable(code)) return undefined;
      const rows = yield* sql<Row>`SELECT * FROM rooms WHERE code = ${code}`.pipe(guard("findRoom"));
      return rows[0] === undefined ? undefined : toRoom(rows[0]);
    }),
    destroyRoom: Effect.fn("Store.destroyRoom")(function* (code, atMs) {
      yield* sql`UPDATE rooms SET destroyed_at_ms = ${atMs} WHERE code = ${code} AND destroyed_at_ms IS NULL`.pipe(guard("destroyRoom"));
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
    appendMessage: (input) => enqueue<Appended<StoredMessage>>((deferred) => ({ kind: "message", input, deferred }), "appendMessage"),
    readMessages: Effect.fn("Store.readMessages")(function* (roomCode, query) {
      if (unstorable(roomCode)) return { messages: [], hasMore: false };
      // A plain message's reply quote comes from the replied-to row, as it is now.
      return yield* page(
        query,
        (anchor, take) => sql<Row>`
          SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM messages m
          LEFT JOIN messages q ON m.kind = 0 AND m.target_seq > 0 AND q.room_code = m.room_code AND q.seq = m.target_seq
          WHERE m.room_code = ${roomCode} AND m.seq < ${anchor} ORDER BY m.seq DESC LIMIT ${take}`,
        (anchor, take) => sql<Row>`
          SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM messages m
          LEFT JOIN messages q ON m.kind = 0 AND m.target_seq > 0 AND q.room_code = m.room_code AND q.seq = m.target_seq
          WHERE m.room_code = ${roomCode} AND m.seq > ${anchor} ORDER BY m.seq ASC LIMIT ${take}`,
        (row) => toMessage(roomCode, row),
      ).pipe(
        Effect.flatMap(
          withReactions<StoredMessage>(
            (from, to) => sql<Row>`
            SELECT target_seq, emoji, username FROM reactions
            WHERE room_code = ${roomCode} AND target_seq BETWEEN ${from} AND ${to} ORDER BY target_seq, seq`,
          ),
        ),
        guard("readMessages"),
      );
    }),
    appendRoomAction: Effect.fn("Store.appendRoomAction")(function* (input) {
      return yield* roomAction(input);
    }),
    appendDirectAction: Effect.fn("Store.appendDirectAction")(function* (input) {
      return yield* directAction(input);
    }),
    appendDirect: Effect.fn("Store.appendDirect")(function* (input) {
      return yield* enqueue<Appended<StoredDirect>>((deferred) => ({ kind: "direct", input, deferred }), "appendDirect");
    }),
    readDirect: Effect.fn("Store.readDirect")(function* (userA, userB, query) {
      if (unstorable(userA) || unstorable(userB)) return { messages: [], hasMore: false };
      const [a, b] = conversationOf(userA, userB);
      return yield* page(
        query,
        (anchor, take) => sql<Row>`
          SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM direct_messages m
          LEFT JOIN direct_messages q
            ON m.kind = 0 AND m.target_seq > 0 AND q.user_a = m.user_a AND q.user_b = m.user_b AND q.seq = m.target_seq
          WHERE m.user_a = ${a} AND m.user_b = ${b} AND m.seq < ${anchor} ORDER BY m.seq DESC LIMIT ${take}`,
        (anchor, take) => sql<Row>`
          SELECT m.*, q.sender AS q_sender, q.text AS q_text, q.deleted AS q_deleted FROM direct_messages m
          LEFT JOIN direct_messages q
            ON m.kind = 0 AND m.target_seq > 0 AND q.user_a = m.user_a AND q.user_b = m.user_b AND q.seq = m.target_seq
          WHERE m.user_a = ${a} AND m.user_b = ${b} AND m.seq > ${anchor} ORDER BY m.seq ASC LIMIT ${take}`,
        toDirect,
      ).pipe(
        Effect.flatMap(
          withReactions<StoredDirect>(
            (from, to) => sql<Row>`
            SELECT target_seq, emoji, username FROM direct_reactions
            WHERE user_a = ${a} AND user_b = ${b} AND target_seq BETWEEN ${from} AND ${to} ORDER BY target_seq, seq`,
          ),
        ),
        guard("readDirect"),
      );
    }),
  });

  const health = StorageHealth.of({ status: () => status });
  return { store, health, stats: (): PostgresStoreStats => ({ ...stats }) };
});

export const PostgresStore = {
  /** Builds the store and exposes its batch counters (benchmarks and tests). Scoped. */
  make: makePostgresStore,
  /** The Store and its StorageHealth over a PostgreSQL database; the pool closes when the layer's scope closes. */
  layer: (options: PostgresStoreOptions): Layer.Layer<Store | StorageHealth, StoreFailure> =>
    Layer.effectContext(
      Effect.map(makePostgresStore(options), ({ store, health }) => Context.make(Store, store).pipe(Context.add(StorageHealth, health))),
    ),
} as const;
