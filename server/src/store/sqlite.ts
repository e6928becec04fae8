// The embedded Store: one SQLite file (Node's built-in node:sqlite) in WAL mode. Statements and COMMITs run on the
// main thread (sqlite-engine.ts); the WAL's fsync runs on libuv's thread pool, and no caller is answered before
// the fsync that covers its commit completed, so an acked append survives power loss while a slow fsync stalls
// no other room's deliveries (see makeSqliteStore).
import { closeSync, fdatasync, fdatasyncSync, fstatSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Context, Effect, Layer, type Scope } from "effect";
import { LimitExceeded, NotFound, PermissionDenied, RoomCodeTaken, StorageUnavailable, StoreError, UsernameTaken } from "../errors.ts";
import {
  type AppendRequest,
  appendedEvent,
  type CauseData,
  openSqliteEngine,
  type StoreRequest,
  type FailureData,
  type Outcome,
  type SqliteCall,
  type SqliteCalls,
  type SqliteStoreOptions,
  storageTrouble,
} from "./sqlite-engine.ts";
import { type Appended, StorageHealth, type StorageStatus, Store, type StoredDirect, type StoredMessage } from "./store.ts";

export { migrations } from "./sqlite-engine.ts";
export type { SqliteStoreOptions, SqliteStoreStats } from "./sqlite-engine.ts";

/**
 * The tagged error for a failed SQLite call: StorageUnavailable when the storage could not do it now (busy,
 * locked, full, I/O error, read-only), StoreError otherwise (a constraint, a corrupt file: retrying will not fix
 * it). Pure; the engine classifies its own failures the same way (sqlite-engine.ts).
 */
export const classifySqliteFailure = (operation: string, cause: unknown): StoreError | StorageUnavailable => {
  const trouble = storageTrouble(cause);
  return trouble === undefined
    ? new StoreError({ operation, cause })
    : new StorageUnavailable({ operation, cause, retryAfterMs: trouble.retryAfterMs });
};

/** A cause from the engine as an Error again (message, SQLite's errcode, its stack), or a plain reason. */
const toCause = (cause: CauseData): unknown => {
  if (typeof cause === "string") return cause;
  const error = new Error(cause.message);
  if (cause.stack !== undefined) error.stack = cause.stack;
  if (cause.errcode !== undefined) Object.assign(error, { errcode: cause.errcode });
  return error;
};

type AnyFailure = StoreError | StorageUnavailable | UsernameTaken | RoomCodeTaken | NotFound | PermissionDenied | LimitExceeded;

/** The tagged error a failure from the engine stands for. */
const toError = (error: FailureData): AnyFailure => {
  switch (error._tag) {
    case "StoreError":
      return new StoreError({ operation: error.operation, cause: toCause(error.cause) });
    case "StorageUnavailable":
      return new StorageUnavailable({ operation: error.operation, cause: toCause(error.cause), retryAfterMs: error.retryAfterMs });
    case "UsernameTaken":
      return new UsernameTaken();
    case "RoomCodeTaken":
      return new RoomCodeTaken();
    case "NotFound":
      return new NotFound({ what: error.what });
    case "PermissionDenied":
      return new PermissionDenied({ message: error.message });
    case "LimitExceeded":
      return new LimitExceeded({ message: error.message });
  }
};

/** Sends one request to the engine; `decode` turns the value of its successful reply into the result. */
type Send = <A, E>(operation: string, request: StoreRequest, decode: (value: unknown) => A) => Effect.Effect<A, E | StoreError>;

/** The Store and StorageHealth over an engine reached through `send`, with the probe fiber (scoped). */
const storeOver = Effect.fnUntraced(function* (send: Send, status: () => StorageStatus, probeIntervalMs: number) {
  const call = <K extends SqliteCall, E = never>(op: K, ...args: Parameters<SqliteCalls[K]>) =>
    send<ReturnType<SqliteCalls[K]>, E | StorageUnavailable>(
      op,
      { kind: "call", op, args },
      (value) => value as ReturnType<SqliteCalls[K]>,
    );

  /** An append: the engine answers a fresh one with its seq (rebuilt here from the input), a duplicate in full. */
  const append = <A, E>(operation: string, append: AppendRequest) =>
    send<A, E | StorageUnavailable>(operation, append, (value) => (typeof value === "number" ? appendedEvent(append, value) : value) as A);

  // The probe commits in the engine: while unavailable, a commit every probeIntervalMs so health recovers by itself
  // once the disk has room again (no user traffic needed); while available, one after idleProbeMs without a
  // commit, so a disk that filled while the chat was quiet shows in /readyz before a user's send finds out.
  // Changes are logged here, on the main thread.
  let reported: StorageStatus = status();
  yield* Effect.forkScoped(
    Effect.forever(
      Effect.sleep(probeIntervalMs).pipe(
        Effect.andThen(Effect.ignore(call("probe"))),
        Effect.andThen(
          Effect.suspend(() => {
            const now = status();
            if (now._tag === reported._tag) return Effect.void;
            reported = now;
            return now._tag === "Unavailable"
              ? Effect.logWarning("storage unavailable: writes fail with UNAVAILABLE", { reason: now.reason })
              : Effect.logInfo("storage available again");
          }),
        ),
      ),
    ),
  );

  type ActionFailure = NotFound | PermissionDenied | LimitExceeded;
  const store = Store.of({
    createUser: Effect.fn("Store.createUser")(function* (input) {
      return yield* call<"createUser", UsernameTaken>("createUser", input);
    }),
    findUser: Effect.fn("Store.findUser")(function* (key) {
      return yield* call("findUser", key);
    }),
    createSession: Effect.fn("Store.createSession")(function* (session) {
      yield* call("createSession", session);
    }),
    findSession: Effect.fn("Store.findSession")(function* (tokenHash) {
      return yield* call("findSession", tokenHash);
    }),
    revokeSession: Effect.fn("Store.revokeSession")(function* (tokenHash) {
      yield* call("revokeSession", tokenHash);
    }),
    createRoom: Effect.fn("Store.createRoom")(function* (room) {
      return yield* call<"createRoom", RoomCodeTaken>("createRoom", room);
    }),
    findRoom: Effect.fn("Store.findRoom")(function* (code) {
      return yield* call("findRoom", code);
    }),
    destroyRoom: Effect.fn("Store.destroyRoom")(function* (code, atMs) {
      yield* call("destroyRoom", code, atMs);
    }),
    countPersistentRooms: Effect.fn("Store.countPersistentRooms")(function* (createdBy) {
      return yield* call("countPersistentRooms", createdBy);
    }),
    listTemporaryRooms: Effect.fn("Store.listTemporaryRooms")(function* (limit) {
      return yield* call("listTemporaryRooms", limit);
    }),
    listPersistentRooms: Effect.fn("Store.listPersistentRooms")(function* (limit) {
      return yield* call("listPersistentRooms", limit);
    }),
    // Untraced: one per message (a traced Effect.fn captures a stack trace and opens a span per call).
    appendMessage: (input) => append<Appended<StoredMessage>, never>("appendMessage", { kind: "message", input }),
    readMessages: Effect.fn("Store.readMessages")(function* (roomCode, query) {
      return yield* call("readMessages", roomCode, query);
    }),
    appendRoomAction: Effect.fn("Store.appendRoomAction")(function* (input) {
      return yield* append<Appended<StoredMessage>, ActionFailure>("appendRoomAction", { kind: "room-action", input });
    }),
    appendDirectAction: Effect.fn("Store.appendDirectAction")(function* (input) {
      return yield* append<Appended<StoredDirect>, ActionFailure>("appendDirectAction", { kind: "direct-action", input });
    }),
    appendDirect: Effect.fn("Store.appendDirect")(function* (input) {
      return yield* append<Appended<StoredDirect>, never>("appendDirect", { kind: "direct", input });
    }),
    readDirect: Effect.fn("Store.readDirect")(function* (userA, userB, query) {
      return yield* call("readDirect", userA, userB, query);
    }),
  });

  return { store, health: StorageHealth.of({ status }) };
});

/**
 * The same Store with the engine on the calling thread and one commit per append (no group commit): for tests
 * that drive time with TestClock, where every store call must complete without real I/O waits in between.
 * Each commit fsyncs on the event loop here (synchronous=FULL); the server uses makeSqliteStore.
 */
export const makeSqliteStoreInThread = Effect.fnUntraced(function* (options: SqliteStoreOptions) {
  let closed = false;
  const engine = yield* Effect.acquireRelease(
    Effect.suspend(() => {
      const opened = openSqliteEngine(options);
      return "error" in opened ? Effect.fail(toError(opened.error) as StoreError | StorageUnavailable) : Effect.succeed(opened.engine);
    }),
    (engine) =>
      Effect.sync(() => {
        closed = true;
        engine.close();
      }),
  );
  const send: Send = <A, E>(operation: string, request: StoreRequest, decode: (value: unknown) => A) =>
    Effect.suspend((): Effect.Effect<A, E | StoreError> => {
      if (closed) return Effect.fail(new StoreError({ operation, cause: "store closed" }));
      const outcome = request.kind === "call" ? engine.call(request.op, request.args) : engine.runBatch([request])[0]!;
      return outcome.ok ? Effect.succeed(decode(outcome.value)) : Effect.fail(toError(outcome.error) as E | StoreError);
    });
  const { store, health } = yield* storeOver(send, engine.status, options.probeIntervalMs ?? 1000);
  return { store, health, stats: engine.stats };
});

/** How the store flushes the WAL: fdatasync on libuv's thread pool (tests inject failures through this). */
export type WalSync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

/** The `-wal` file, open for fdatasync: its descriptor and the inode it was opened on. */
interface WalHandle {
  readonly fd: number;
  readonly ino: number;
}

/** Opens `walFile` (which must exist) and makes its directory entry durable: fsync of the directory. */
const openWal = (walFile: string): WalHandle => {
  const fd = openSync(walFile, "r+");
  try {
    fdatasyncSync(fd);
    const dir = openSync(dirname(walFile), "r");
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
    return { fd, ino: fstatSync(fd).ino };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
};

/**
 * Builds the Store over one SQLite file, with its StorageHealth, and the database on the main thread in WAL mode
 * with synchronous=NORMAL: a COMMIT writes its WAL frames with write(2) and returns without an fsync, and the
 * fsync runs off the event loop, as `fdatasync` of the `-wal` file on libuv's thread pool. No caller is answered
 * before an fdatasync that STARTED after its statement ran has completed:
 *
 * - Group commit. The requests of one tick run together (a microtask after the first): the other calls each in
 *   their own transaction, the appends in ONE transaction of at most maxBatch, each under a savepoint. Then one
 *   fdatasync starts, unless one is already running: commits made meanwhile wait for the next one, which covers
 *   all of them (group fsync). At most one fdatasync is in flight.
 * - Why it is as durable as FULL (https://www.sqlite.org/pragma.html#pragma_synchronous,
 *   https://www.sqlite.org/wal.html): in WAL mode FULL differs from NORMAL only by an fsync of the WAL after
 *   each commit. A transaction's frames (with the commit frame) are written to the `-wal` file before COMMIT
 *   returns; fdatasync on any descriptor of that inode flushes all its dirty pages and its size, so one that
 *   starts after COMMIT returned covers that commit and every earlier one. Checkpoints under NORMAL still sync
 *   the WAL before copying it and the database after, and sync the WAL header when the WAL restarts. SQLite
 *   keeps the same `-wal` file while a connection is open (it rewinds it, it does not unlink it); the store
 *   checks the inode before each flush anyway and reopens (and fsyncs the directory again) if it changed. The
 *   directory entry of the `-wal` file is made durable once at open.
 * - Reads wait too: a read that ran after a commit not yet flushed is answered after that flush, so nobody
 *   sees a message before its sender could have been acked. Answers go out in the order the requests ran.
 * - A failed fdatasync (EIO, ENOSPC) fails every caller it covered with StorageUnavailable and the store stays
 *   Unavailable until it is restarted: after a failed fsync Linux may have dropped the dirty pages and a later
 *   fsync can succeed without them (the PostgreSQL "fsyncgate" finding), so no later flush can vouch for those
 *   commits. Every later call fails with StorageUnavailable and /readyz says why; a restart recovers from
 *   what is on disk, and clients retry with the same client_message_id.
 *
 * Opening fails with StorageUnavailable when the disk cannot take a commit and with StoreError for anything else.
 * Closing answers everything already asked (after its flush), then closes the database; later calls fail with
 * StoreError "store closed".
 */
export const makeSqliteStore = Effect.fnUntraced(function* (options: SqliteStoreOptions & { readonly walSync?: WalSync }) {
  const maxBatch = options.maxBatch ?? 512;
  const walSync = options.walSync ?? fdatasync;
  const walFile = options.file === ":memory:" ? undefined : `${options.file}-wal`;
  const engine = yield* Effect.acquireRelease(
    Effect.suspend(() => {
      const opened = openSqliteEngine({ ...options, synchronous: "normal" });
      return "error" in opened ? Effect.fail(toError(opened.error) as StoreError | StorageUnavailable) : Effect.succeed(opened.engine);
    }),
    (engine) => Effect.sync(() => engine.close()),
  );
  let wal: WalHandle | undefined;
  if (walFile !== undefined) {
    wal = yield* Effect.try({
      try: () => openWal(walFile),
      catch: (cause) => classifySqliteFailure("open", Object.assign(new Error(`${walFile}: ${String(cause)}`), { errcode: 10 })),
    });
    yield* Effect.addFinalizer(() => Effect.sync(() => wal !== undefined && closeSync(wal.fd)));
  }

  /** Set for good by a failed fdatasync (see above); wins over the engine's own health. */
  let walFailure: { readonly reason: string; readonly sinceMs: number; readonly cause: unknown } | undefined;
  const status = (): StorageStatus =>
    walFailure === undefined ? engine.status() : { _tag: "Unavailable", reason: walFailure.reason, sinceMs: walFailure.sinceMs };
  const walUnavailable = (operation: string): { readonly ok: false; readonly error: FailureData } => ({
    ok: false,
    error: {
      _tag: "StorageUnavailable",
      operation,
      cause: { message: walFailure?.reason ?? "WAL flush failed" },
      retryAfterMs: 2000,
    },
  });

  /** Answered once the flush of commit number `epoch` completed (or failed). In the order the requests ran. */
  interface Held {
    readonly epoch: number;
    readonly operation: string;
    readonly outcome: Outcome;
    readonly resume: (outcome: Outcome) => void;
  }
  let held: Array<Held> = [];
  /** Commits up to this number are on disk. */
  let durable = engine.commits();
  let flushing = false;
  let closing: (() => void) | undefined;

  const release = () => {
    let index = 0;
    while (index < held.length && held[index]!.epoch <= durable) {
      const entry = held[index++]!;
      entry.resume(entry.outcome);
    }
    if (index > 0) held = held.slice(index);
  };
  const failHeld = (through: number) => {
    let index = 0;
    while (index < held.length && held[index]!.epoch <= through) {
      const entry = held[index++]!;
      entry.resume(walUnavailable(entry.operation));
    }
    if (index > 0) held = held.slice(index);
  };

  /** Starts one fdatasync covering every commit so far, unless one runs (its completion starts the next). */
  const flush = () => {
    if (flushing || walFailure !== undefined) return;
    const target = engine.commits();
    if (target <= durable) return release();
    if (wal === undefined) {
      durable = target; // :memory: has nothing to flush
      return release();
    }
    try {
      // SQLite rewinds the same -wal file; should it ever be a new file, flush that one (and its directory entry).
      if (statSync(walFile!).ino !== wal.ino) {
        const old = wal;
        wal = openWal(walFile!);
        closeSync(old.fd);
      }
    } catch (cause) {
      return flushed(target, cause as NodeJS.ErrnoException);
    }
    flushing = true;
    walSync(wal.fd, (error) => {
      flushing = false;
      flushed(target, error);
    });
  };
  const flushed = (target: number, error: NodeJS.ErrnoException | null) => {
    if (error === null) {
      durable = target;
      release();
      flush();
    } else {
      walFailure = { reason: `fdatasync of ${walFile} failed: ${error.message}; restart the server`, sinceMs: Date.now(), cause: error };
      failHeld(Number.POSITIVE_INFINITY);
    }
    if (closing !== undefined && !flushing && held.length === 0) closing();
  };

  /** The requests of this tick, run together once the tick's synchronous work is done. */
  let queue: Array<{ readonly operation: string; readonly request: StoreRequest; readonly resume: (outcome: Outcome) => void }> = [];
  let scheduled = false;
  const hold = (operation: string, outcome: Outcome, resume: (outcome: Outcome) => void) => {
    if (walFailure !== undefined) return resume(walUnavailable(operation));
    const epoch = engine.commits();
    if (epoch <= durable && held.length === 0) return resume(outcome);
    held.push({ epoch, operation, outcome, resume });
  };
  const run = () => {
    scheduled = false;
    const requests = queue;
    queue = [];
    const appends: typeof requests = [];
    for (const entry of requests) {
      if (entry.request.kind === "call") hold(entry.operation, engine.call(entry.request.op, entry.request.args), entry.resume);
      else appends.push(entry);
    }
    for (let start = 0; start < appends.length; start += maxBatch) {
      const batch = appends.slice(start, start + maxBatch);
      const outcomes = engine.runBatch(batch.map((entry) => entry.request as AppendRequest));
      for (let index = 0; index < batch.length; index++) hold(batch[index]!.operation, outcomes[index]!, batch[index]!.resume);
    }
    flush();
  };

  let stopped = false;
  yield* Effect.addFinalizer(() =>
    Effect.callback<void>((resume) => {
      stopped = true;
      if (scheduled) run();
      if (!flushing && held.length === 0) return resume(Effect.void);
      closing = () => resume(Effect.void);
    }),
  );

  const send: Send = <A, E>(operation: string, request: StoreRequest, decode: (value: unknown) => A) =>
    Effect.callback<A, E | StoreError>((resume) => {
      if (stopped) return resume(Effect.fail(new StoreError({ operation, cause: "store closed" })));
      if (walFailure !== undefined) return resume(Effect.fail(toError(walUnavailable(operation).error) as E | StoreError));
      let live = true;
      queue.push({
        operation,
        request,
        resume: (outcome) => {
          if (!live) return; // its caller was interrupted; an append may still have committed
          live = false;
          resume(outcome.ok ? Effect.succeed(decode(outcome.value)) : Effect.fail(toError(outcome.error) as E | StoreError));
        },
      });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(run);
      }
      return Effect.sync(() => void (live = false));
    });

  const { store, health } = yield* storeOver(send, status, options.probeIntervalMs ?? 1000);
  return { store, health, stats: engine.stats };
});

/** A fresh temp directory for a database, removed with the scope. */
const tempFile: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "protochat-store-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
).pipe(Effect.map((dir) => join(dir, "chat.db")));

export const SqliteStore = {
  /** Builds the store and exposes its batch counters (benchmarks and tests). Scoped. */
  make: makeSqliteStore,
  /**
   * The Store and its StorageHealth over `options.file` (e.g. `<dataDir>/chat.db`); closes the database when the
   * layer's scope closes. Fails with StorageUnavailable when the disk cannot take a commit at start.
   */
  layer: (options: SqliteStoreOptions): Layer.Layer<Store | StorageHealth, StoreError | StorageUnavailable> =>
    Layer.effectContext(
      Effect.map(makeSqliteStore(options), ({ store, health }) => Context.make(Store, store).pipe(Context.add(StorageHealth, health))),
    ),
  /**
   * A Store over a file in a fresh temp directory, deleted on close, with the engine on the calling thread
   * (makeSqliteStoreInThread): for tests of other services, which may drive time with TestClock.
   */
  layerTemp: Layer.effect(
    Store,
    Effect.flatMap(tempFile, (file) => Effect.map(makeSqliteStoreInThread({ file }), ({ store }) => store)),
  ),
  tempFile,
} as const;
