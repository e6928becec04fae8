// The embedded Store: one SQLite file (Node's built-in node:sqlite) in WAL mode with synchronous=FULL, so a
// commit is on disk before any caller is acked. The database lives in a worker thread (sqlite-worker.ts over
// sqlite-engine.ts), so statements, commits and fsyncs never stall the event loop; this module is the Effect
// side: each call posts a request (the requests of one tick in one message) and resumes from the reply.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
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
  type SqliteStoreStats,
  storageTrouble,
} from "./sqlite-engine.ts";
import type { WorkerMessage, WorkerRequest } from "./sqlite-worker.ts";
import { type Appended, StorageHealth, type StorageStatus, Store, type StoredDirect, type StoredMessage } from "./store.ts";

export { migrations } from "./sqlite-engine.ts";
export type { SqliteStoreOptions, SqliteStoreStats } from "./sqlite-engine.ts";

/**
 * The tagged error for a failed SQLite call: StorageUnavailable when the storage could not do it now (busy,
 * locked, full, I/O error, read-only), StoreError otherwise (a constraint, a corrupt file: retrying will not fix
 * it). Pure; the worker classifies its own failures the same way (sqlite-engine.ts).
 */
export const classifySqliteFailure = (operation: string, cause: unknown): StoreError | StorageUnavailable => {
  const trouble = storageTrouble(cause);
  return trouble === undefined
    ? new StoreError({ operation, cause })
    : new StorageUnavailable({ operation, cause, retryAfterMs: trouble.retryAfterMs });
};

const WORKER = new URL("./sqlite-worker.ts", import.meta.url);
/** How long closing waits for the worker to answer what it holds and close the database before terminating it. */
const CLOSE_TIMEOUT_MS = 10_000;

/** A cause from the worker as an Error again (message, SQLite's errcode, the worker's stack), or a plain reason. */
const toCause = (cause: CauseData): unknown => {
  if (typeof cause === "string") return cause;
  const error = new Error(cause.message);
  if (cause.stack !== undefined) error.stack = cause.stack;
  if (cause.errcode !== undefined) Object.assign(error, { errcode: cause.errcode });
  return error;
};

type AnyFailure = StoreError | StorageUnavailable | UsernameTaken | RoomCodeTaken | NotFound | PermissionDenied | LimitExceeded;

/** The tagged error a failure from the worker stands for. */
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

/** Starts the worker and waits until it opened the database (or says why it could not). */
const startWorker = (options: SqliteStoreOptions) =>
  Effect.callback<Worker, StoreError | StorageUnavailable>((resume) => {
    const worker = new Worker(WORKER, { workerData: options, name: "sqlite-store" });
    const settle = (outcome: Effect.Effect<Worker, StoreError | StorageUnavailable>) => {
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      resume(outcome);
    };
    const onMessage = (message: WorkerMessage) => {
      if (message.type === "ready") return settle(Effect.succeed(worker));
      if (message.type === "failed") {
        void worker.terminate();
        settle(Effect.fail(toError(message.error) as StoreError | StorageUnavailable));
      }
    };
    const onError = (cause: unknown) => {
      void worker.terminate();
      settle(Effect.fail(new StoreError({ operation: "open", cause })));
    };
    const onExit = (code: number) =>
      settle(Effect.fail(new StoreError({ operation: "open", cause: `store worker exited with code ${code}` })));
    worker.on("message", onMessage).on("error", onError).on("exit", onExit);
    return Effect.sync(() => {
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      void worker.terminate();
    });
  });

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

  /** An append: the worker answers a fresh one with its seq (rebuilt here from the input), a duplicate in full. */
  const append = <A, E>(operation: string, append: AppendRequest) =>
    send<A, E | StorageUnavailable>(operation, append, (value) => (typeof value === "number" ? appendedEvent(append, value) : value) as A);

  // The probe runs in the engine: while unavailable, a commit every probeIntervalMs so health recovers by itself
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
 * Builds the Store over one SQLite file, with its StorageHealth. Opening fails with StorageUnavailable when the
 * disk cannot take a commit (full, I/O errors, read-only) and with StoreError for anything else (a corrupt or
 * foreign file): either way the message says why. When the scope closes, the worker answers everything already
 * sent, closes the database and ends; calls after that fail with StoreError "store closed". If the worker dies,
 * every pending and later call fails with StoreError and health is Unavailable: no caller waits forever.
 */
export const makeSqliteStore = Effect.fnUntraced(function* (options: SqliteStoreOptions) {
  const probeIntervalMs = options.probeIntervalMs ?? 1000;
  // Health and counters as the worker last reported them (every reply carries both).
  let status: StorageStatus = { _tag: "Available" };
  let stats: SqliteStoreStats = { batches: 0, appends: 0, largestBatch: 0 };
  /** Why calls fail from now on: set when the store closes or its worker dies. */
  let stopped: string | undefined;
  let nextId = 1;
  const pending = new Map<number, { readonly operation: string; readonly resume: (outcome: Outcome) => void }>();
  let outbox: Array<WorkerRequest> = [];
  let posting = false;

  const failPending = (cause: string) => {
    outbox = [];
    const waiting = [...pending.values()];
    pending.clear();
    for (const { operation, resume } of waiting) resume({ ok: false, error: { _tag: "StoreError", operation, cause } });
  };

  const worker = yield* Effect.acquireRelease(startWorker(options), (worker) =>
    Effect.suspend(() => {
      const exited = new Promise<void>((resolve) => (worker.threadId === -1 ? resolve() : worker.once("exit", () => resolve())));
      if (stopped === undefined) {
        stopped = "store closed";
        post();
        worker.postMessage([{ kind: "close" }] satisfies ReadonlyArray<WorkerRequest>);
      }
      const timer = setTimeout(() => void worker.terminate(), CLOSE_TIMEOUT_MS);
      return Effect.promise(() => exited).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            clearTimeout(timer);
            failPending("store closed");
          }),
        ),
      );
    }),
  );

  worker.on("message", (message: WorkerMessage) => {
    if (message.type !== "replies") return;
    status = message.status;
    stats = message.stats;
    for (const [id, outcome] of message.replies) {
      const entry = pending.get(id);
      if (entry === undefined) continue; // its caller was interrupted
      pending.delete(id);
      entry.resume(outcome);
    }
  });
  /** The worker ended without being asked (an uncaught error, killed): fail everything, report Unavailable. */
  const died = (reason: string) => {
    if (stopped !== undefined) return;
    stopped = reason;
    status = { _tag: "Unavailable", reason, sinceMs: Date.now() };
    failPending(reason);
  };
  worker.on("error", (cause) => died(`store worker failed: ${cause instanceof Error ? cause.message : String(cause)}`));
  worker.on("exit", (code) => died(`store worker exited with code ${code}`));

  /** Posts the requests of this tick as one message. */
  const post = () => {
    posting = false;
    if (outbox.length === 0) return;
    const requests = outbox;
    outbox = [];
    worker.postMessage(requests);
  };

  const send: Send = <A, E>(operation: string, request: StoreRequest, decode: (value: unknown) => A) =>
    Effect.callback<A, E | StoreError>((resume) => {
      if (stopped !== undefined) return resume(Effect.fail(new StoreError({ operation, cause: stopped })));
      const id = nextId++;
      pending.set(id, {
        operation,
        resume: (outcome) =>
          resume(outcome.ok ? Effect.succeed(decode(outcome.value)) : Effect.fail(toError(outcome.error) as E | StoreError)),
      });
      outbox.push({ ...request, id });
      if (!posting) {
        posting = true;
        queueMicrotask(post);
      }
      // An interrupted caller's request still runs (an append may commit); its reply is dropped.
      return Effect.sync(() => void pending.delete(id));
    });

  const { store, health } = yield* storeOver(send, () => status, probeIntervalMs);
  return {
    store,
    health,
    stats: (): SqliteStoreStats => ({ ...stats }),
    /** For tests: the thread that owns the database (terminating it is a crash the store must survive). */
    worker,
  };
});

/**
 * The same Store with the engine on the calling thread and one commit per append (no group commit): for tests
 * that drive time with TestClock, where every store call must complete without real I/O waits in between.
 * Commits block the event loop here; the server uses makeSqliteStore.
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
