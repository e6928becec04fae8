// The SQLite store's worker thread: owns the database connection (sqlite-engine.ts) so that statements, commits
// and their fsyncs never block the main thread's event loop. A thin message loop; the protocol is below.
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import {
  type AppendRequest,
  type FailureData,
  openSqliteEngine,
  type Outcome,
  type SqliteStoreOptions,
  type SqliteStoreStats,
  type StoreRequest,
} from "./sqlite-engine.ts";
import type { StorageStatus } from "./store.ts";

/** What the main thread posts: an array of these per message (the requests of one tick). */
export type WorkerRequest =
  | (StoreRequest & { readonly id: number })
  /** Answer everything posted before, close the database, then let the thread end. */
  | { readonly kind: "close" };

/** What the worker posts. Each `replies` carries the health and the counters as they are after its work. */
export type WorkerMessage =
  | { readonly type: "ready" }
  /** The database did not open (then the thread ends): why, as StorageUnavailable or StoreError data. */
  | { readonly type: "failed"; readonly error: FailureData }
  | {
      readonly type: "replies";
      readonly replies: ReadonlyArray<readonly [number, Outcome]>;
      readonly status: StorageStatus;
      readonly stats: SqliteStoreStats;
    }
  | { readonly type: "closed" };

const port = parentPort;
if (port === null) throw new Error("sqlite-worker.ts runs as a worker thread (see sqlite.ts)");
const options = workerData as SqliteStoreOptions;
const maxBatch = options.maxBatch ?? 512;

const opened = openSqliteEngine(options);
if ("error" in opened) {
  port.postMessage({ type: "failed", error: opened.error } satisfies WorkerMessage);
  port.close();
} else {
  const engine = opened.engine;
  const post = (replies: ReadonlyArray<readonly [number, Outcome]>) => {
    const message: WorkerMessage = { type: "replies", replies, status: engine.status(), stats: engine.stats() };
    port.postMessage(message);
  };

  let inbox: Array<WorkerRequest> = [];

  /**
   * Group commit: everything that arrived before this runs (including messages still queued on the port) is one
   * drain. Calls run first, in arrival order, and are answered at once (a read does not wait for an fsync); then
   * the drain's appends are written in transactions of at most maxBatch, each answered once its COMMIT returned.
   * Whatever arrives meanwhile waits in the port and becomes the next drain. Every request in a drain was sent
   * before any of them is answered, so this order is as good as any other.
   */
  const drain = () => {
    for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
      for (const request of next.message as ReadonlyArray<WorkerRequest>) inbox.push(request);
    }
    const requests = inbox;
    inbox = [];
    const appends: Array<AppendRequest & { readonly id: number }> = [];
    const replies: Array<readonly [number, Outcome]> = [];
    let close = false;
    for (const request of requests) {
      if (request.kind === "call") replies.push([request.id, engine.call(request.op, request.args)]);
      else if (request.kind === "close") close = true;
      else appends.push(request);
    }
    if (replies.length > 0) post(replies);
    for (let start = 0; start < appends.length; start += maxBatch) {
      const batch = appends.slice(start, start + maxBatch);
      const outcomes = engine.runBatch(batch);
      post(batch.map((append, index) => [append.id, outcomes[index]!] as const));
    }
    if (close) {
      engine.close();
      port.postMessage({ type: "closed" } satisfies WorkerMessage);
      port.close();
    }
  };

  port.on("message", (requests: ReadonlyArray<WorkerRequest>) => {
    for (const request of requests) inbox.push(request);
    drain();
  });
  port.postMessage({ type: "ready" } satisfies WorkerMessage);
}
