// The benchmark's load generator, one design for every server (run by bench.ts, pinned to CPU 1):
//  1. idle phase: open N idle connections (chat: authenticated with a session token at the upgrade, and
//     pinging every heartbeat interval), read the server's RSS before and after: bytes per connection;
//  2. load phase: R rooms x M members, S senders per room, a fixed offered rate (open model: message j is
//     scheduled at t0 + j/rate and carries that time in its text; latency = receipt − scheduled time, so a
//     server that falls behind cannot hide it). After a warm-up, a measured window: the server's CPU time
//     from /proc/<pid>/stat over the window, latencies of messages scheduled in it, and deliveries of those
//     messages against members × sent (after a drain). --points runs one such stage per offered rate
//     (deliveries/s), with the same connections;
//  3. --ramp: the capacity ramp, stages of --ramp-seconds from --ramp-from deliveries/s up by 1.5x each, at
//     most --ramp-steps, stopping at the first that fails (p99 ≥ 50 ms, a message not delivered or a seq
//     gap; a failing step is tried again, up to --ramp-tries in all, and fails only if every try fails),
//     then two refining steps between the last pass and that failure (geometric middle). The capacity is
//     the highest rate that passed. The rules and the ramp's time bound are in load/src/ramp.ts.
// Prints one JSON line per stage (a BenchResult), and with --ramp a last line with the capacity (RampResult).
//   node load/bench/generator.ts --server chat --url http://127.0.0.1:PORT --pid PID[,PID…] [--rate 200 …]
// Several pids (a cluster: nodes, Redis, PostgreSQL) are measured together, each with its descendants;
// --rss-pid PID[,PID…] names the processes whose memory holds the connections (default: --pid).
// A cluster: --url lists each node's URL and the connections go to the nodes directly, spread by load/src/per-node.ts;
// the first N --pid entries are those nodes in the same order and --pid-names names every --pid entry; each
// stage then also reports every node's figures over its own deliveries and each other process's cost.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { io as ioClient, type Socket } from "socket.io-client";
import WebSocket from "ws";
import { ChatConn, nowMs } from "../src/chat-conn.ts";
import { expectedByNode, memberNodeOf, membersByNode, microsPer, nodeOf, rssPerConnection, shareOf } from "../src/per-node.ts";
import { cpuTimes, pool, writeSyscalls, rssBytes, sleep, waitUntil } from "../src/proc.ts";
import {
  countedTry,
  failureReason,
  needsAnotherTry,
  passes,
  RAMP_DEFAULTS,
  RAMP_FACTOR,
  RAMP_PAUSE_SEC,
  RAMP_REFINE_STEPS,
  rampMaxSeconds,
} from "../src/ramp.ts";
import { Samples } from "../src/samples.ts";

const DEBUG = process.env.BENCH_DEBUG === "1";
/** This process's GC pauses as [start, duration] in performance.now() ms, kept for the window being measured. */
const gcPauses: Array<readonly [number, number]> = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gcPauses.push([entry.startTime, entry.duration]);
}).observe({ entryTypes: ["gc"] });
const gcDuring = (from: number, to: number): { generatorGcMaxMs: number; generatorGcTotalMs: number } => {
  const inside = gcPauses.filter(([start]) => start >= from && start < to).map(([, duration]) => duration);
  gcPauses.length = 0;
  return { generatorGcMaxMs: Math.max(0, ...inside), generatorGcTotalMs: inside.reduce((a, b) => a + b, 0) };
};
const slow: Array<[number, number]> = [];
export type ServerKind = "chat" | "raw-ws" | "socket.io" | "centrifugo";

export interface GeneratorOptions {
  readonly rooms: number;
  readonly members: number;
  readonly senders: number;
  /** Messages per second over all rooms, one stage each (--rate, or --points ÷ members). */
  readonly rates: ReadonlyArray<number>;
  /** The capacity ramp, when asked for. */
  readonly ramp?: RampOptions | undefined;
  readonly warmupSec: number;
  readonly durationSec: number;
  readonly idle: number;
  readonly textBytes: number;
  /** Chat only: users whose tokens the connections share. */
  readonly users: number;
}

export interface RampOptions {
  /** Offered deliveries/s of the first step. */
  readonly fromDeliveries: number;
  /** Upward steps at most (each 1.5x the last), before the two refining ones. */
  readonly steps: number;
  /** Tries of a step at most: a step passes when one of them passes. */
  readonly tries: number;
  readonly warmupSec: number;
  readonly durationSec: number;
}

export interface BenchResult {
  /** The server kind, or the bench's label for a variant (chat-tmpfs). */
  readonly server: string;
  /** "point": a --rate/--points stage; "ramp": a step of the capacity ramp. */
  readonly stage: "point" | "ramp";
  /** Deliveries per second offered (messages/s × members). */
  readonly offeredDeliveriesPerSec: number;
  /** Ramp steps: whether this try held (p99 under the limit, every message delivered, no seq gap). */
  readonly pass?: boolean;
  /** Ramp steps: which try of its step this was (1 = first). */
  readonly try?: number;
  readonly cpuUsPerDelivery: number;
  readonly deliveriesPerCpuSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly deliveredRatio: number;
  readonly rssBytesPerConn: number;
  readonly serverCpuPercent: number;
  readonly serverUserPercent: number;
  readonly writeSyscallsPerDelivery: number;
  readonly serverSystemPercent: number;
  readonly deliveriesPerSec: number;
  readonly seqGaps: number;
  readonly generatorLoopDelayP99Ms: number;
  readonly generatorCpuPercent: number;
  /**
   * The generator's own garbage-collection pauses during the window (longest, and all of them together, ms):
   * a delivery that arrives during one is stamped late, so a server whose frames cost the generator more to
   * decode shows a longer tail that is not its own. Compare before reading a p99.
   */
  readonly generatorGcMaxMs: number;
  readonly generatorGcTotalMs: number;
  /** Publishes the server answered with an error (Centrifugo), or sends that failed: none expected. */
  readonly sendErrors: number;
  /** /proc/loadavg (1, 5, 15 min) at the end of the measured window: the machine's state during it. */
  readonly loadAverage: string;
  /** A cluster run (several --url): each node over its own deliveries, and the other processes' cost. */
  readonly cluster?: ClusterSplit;
}

/** One node of a cluster stage, from the connections the generator made to that node directly. */
export interface NodeFigures {
  readonly name: string;
  readonly pid: number;
  /** Deliveries this node made during the window (receipts on its connections). */
  readonly deliveries: number;
  readonly deliveriesPerSec: number;
  /** This node's CPU (user + system, with its descendants) over the window ÷ its deliveries. */
  readonly cpuUsPerDelivery: number;
  readonly cpuPercent: number;
  /** Latency of the window's messages as received on this node's connections. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  /** Received on this node's connections ÷ what its members were owed (messages per room × members there). */
  readonly deliveredRatio: number;
  /** This node's RSS growth ÷ the idle connections it was given. */
  readonly rssBytesPerConn: number;
  readonly idleConnections: number;
}

/** A process of a cluster that is not a node (PostgreSQL with its backends, Redis): what it costs. */
export interface ServiceFigures {
  readonly name: string;
  readonly pid: number;
  /** Its CPU over the window ÷ every delivery of the cluster in the window. */
  readonly cpuUsPerDelivery: number;
  /** Its CPU over the window ÷ the messages sent in the window (its work follows messages, not deliveries). */
  readonly cpuUsPerMessage: number;
  readonly cpuPercent: number;
}

export interface ClusterSplit {
  readonly nodes: ReadonlyArray<NodeFigures>;
  readonly services: ReadonlyArray<ServiceFigures>;
}

/** The capacity figure: the highest offered deliveries/s whose ramp step passed. */
export interface RampResult {
  readonly server: string;
  readonly stage: "capacity";
  /** 0 when even the first step failed. */
  readonly capacityDeliveriesPerSec: number;
  /** The lowest offered rate that failed (undefined: every step passed, so the capacity is a lower bound). */
  readonly firstFailDeliveriesPerSec: number | undefined;
  /** Why that step failed. */
  readonly failedOn: string | undefined;
  /** The generator's CPU at the failing step was ≥ 90% of its core: it, not the server, may have been the limit. */
  readonly generatorBound: boolean;
  /** The counted try of the failing step: the server's CPU % (of one core; under 100 with p99 the only failure
   * means the server was waiting, not saturated) and the load average at its end. */
  readonly failedServerCpuPercent: number | undefined;
  readonly failedLoadAverage: string | undefined;
  /** Tries per step at most, and the ramp's stated time bound in seconds (load/src/ramp.ts rampMaxSeconds). */
  readonly tries: number;
  readonly maxSeconds: number;
  /** How long the ramp's stages took. */
  readonly seconds: number;
}

interface BenchClient {
  send(text: string): void;
  close(): void;
}

type OnText = (text: string, at: number) => void;

interface Adapter {
  setup(): Promise<void>;
  rooms(n: number): Promise<string[]>;
  /** `index` numbers the connection in its phase; `node` is the (cluster) node it goes to. */
  connect(room: string | undefined, index: number, node: number, onText: OnText): Promise<BenchClient>;
  readonly seqGaps: number;
  readonly sendErrors: number;
  teardown(): void;
}

/** The base URL of node `node` (0 for a single server; a cluster's connections are spread by load/src/per-node.ts). */
type UrlFor = (node: number) => string;

const chatAdapter = (urlFor: UrlFor, nodes: number, o: GeneratorOptions): Adapter => {
  const wsUrlOf = (node: number) => `${urlFor(node).replace(/^http/, "ws")}/ws`;
  const wsUrl = wsUrlOf(0);
  const runId = randomBytes(4).toString("hex");
  let tokens: string[] = [];
  let gaps = 0;
  const owners: ChatConn[] = [];
  return {
    async setup() {
      tokens = await pool(
        Array.from({ length: o.users }, (_, i) => i),
        8,
        async (i) => {
          // Spread over the nodes like the connections, so each node has served the same kind of work.
          const conn = await ChatConn.open(wsUrlOf(nodeOf(i, nodes)));
          const ok = await conn.call({ case: "register", value: { username: `b-${runId}-${i}`, password: "bench-password" } }, "authOk");
          conn.close();
          return ok.sessionToken;
        },
      );
    },
    async rooms(n) {
      const owner = await ChatConn.open(wsUrl, { token: tokens[0]! });
      owner.startHeartbeat((await owner.authPush!).heartbeatIntervalMs);
      owners.push(owner);
      const codes: string[] = [];
      for (let i = 0; i < n; i++) {
        const joined = await owner.call({ case: "createRoom", value: { name: "", persistent: false } }, "roomJoined");
        codes.push(joined.room!.code);
        // The owner leaves so each room's fan-out is exactly its members, as on the other servers.
        await owner.call({ case: "leaveRoom", value: { code: joined.room!.code } }, "ok");
      }
      return codes;
    },
    async connect(room, index, node, onText) {
      const conn = await ChatConn.open(wsUrlOf(node), { token: tokens[index % tokens.length]! });
      conn.startHeartbeat((await conn.authPush!).heartbeatIntervalMs);
      if (room) {
        const joined = await conn.call({ case: "joinRoom", value: { code: room } }, "roomJoined");
        let last = Number(joined.lastSeq);
        conn.onMessage = (m, at) => {
          const seq = Number(m.seq);
          if (seq !== last + 1) gaps++;
          last = Math.max(last, seq);
          onText(m.text, at);
        };
      }
      let n = 0;
      return {
        send: (text) => conn.sendMessage(room!, `${runId}-${index}-${n++}`, text),
        close: () => conn.close(),
      };
    },
    get seqGaps() {
      return gaps;
    },
    sendErrors: 0,
    teardown() {
      for (const o of owners) o.close();
    },
  };
};

const rawAdapter = (urlFor: UrlFor): Adapter => ({
  async setup() {},
  async rooms(n) {
    return Array.from({ length: n }, (_, i) => `room${i}`);
  },
  connect(room, _index, node, onText) {
    const ws = new WebSocket(`${urlFor(node).replace(/^http/, "ws")}/ws${room ? `?room=${room}` : ""}`, { perMessageDeflate: false });
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: Buffer) => {
      const at = nowMs();
      onText(data.toString("latin1"), at);
    });
    ws.on("error", () => {});
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve({ send: (text) => ws.send(Buffer.from(text, "latin1")), close: () => ws.close() }));
      ws.once("error", reject);
    });
  },
  seqGaps: 0,
  sendErrors: 0,
  teardown() {},
});

const socketIoAdapter = (urlFor: UrlFor): Adapter => ({
  async setup() {},
  async rooms(n) {
    return Array.from({ length: n }, (_, i) => `room${i}`);
  },
  connect(room, _index, node, onText) {
    const socket: Socket = ioClient(urlFor(node), {
      transports: ["websocket"],
      forceNew: true,
      reconnection: false,
      query: room ? { room } : {},
    });
    socket.on("m", (text: string) => onText(text, nowMs()));
    return new Promise((resolve, reject) => {
      socket.once("connect", () => resolve({ send: (text) => socket.emit("m", text), close: () => socket.close() }));
      socket.once("connect_error", reject);
    });
  },
  seqGaps: 0,
  sendErrors: 0,
  teardown() {},
});

/**
 * Centrifugo's JSON protocol over its bidirectional WebSocket (/connection/websocket): `{"id":1,"connect":{}}`
 * (anonymous), `{"id":2,"subscribe":{"channel":…}}`, then `{"id":n,"publish":{"channel":…,"data":"<text>"}}`
 * (the publisher is a subscriber, so it gets its own message back, as on the other servers). Pushes arrive as
 * `{"push":{"channel":…,"pub":{"data":…,"offset":n}}}`; several replies and pushes can share one WebSocket
 * message, one JSON object per line. The server's ping is `{}` and wants `{}` back. Offsets (positioning is
 * forced) must go up by exactly 1 per channel, as the chat server's seqs.
 */
const centrifugoAdapter = (urlFor: UrlFor): Adapter => {
  let gaps = 0;
  let errors = 0;
  let errorLogged = false;
  return {
    async setup() {},
    async rooms(n) {
      return Array.from({ length: n }, (_, i) => `room${i}`);
    },
    connect(room, _index, node, onText) {
      const ws = new WebSocket(`${urlFor(node).replace(/^http/, "ws")}/connection/websocket`, { perMessageDeflate: false });
      const replies = new Map<number, (reply: CentrifugoReply) => void>();
      let nextId = 1;
      let lastOffset = 0;
      const call = (body: Record<string, unknown>): Promise<CentrifugoReply> =>
        new Promise((resolve, reject) => {
          const id = nextId++;
          replies.set(id, (reply) => (reply.error ? reject(new Error(`centrifugo: ${JSON.stringify(reply.error)}`)) : resolve(reply)));
          ws.send(JSON.stringify({ id, ...body }));
        });
      ws.on("message", (data: Buffer) => {
        const at = nowMs();
        for (const line of data.toString("utf8").split("\n")) {
          if (line === "") continue;
          if (line === "{}") {
            ws.send("{}");
            continue;
          }
          const frame = JSON.parse(line) as CentrifugoReply;
          const pub = frame.push?.pub;
          if (pub) {
            const offset = pub.offset ?? 0;
            if (offset !== lastOffset + 1) gaps++;
            lastOffset = Math.max(lastOffset, offset);
            if (typeof pub.data === "string") onText(pub.data, at);
          } else if (frame.id !== undefined) {
            const waiting = replies.get(frame.id);
            if (waiting) {
              replies.delete(frame.id);
              waiting(frame);
            } else if (frame.error) {
              errors++;
              if (!errorLogged) process.stderr.write(`  [centrifugo] publish refused: ${JSON.stringify(frame.error)}\n`);
              errorLogged = true;
            }
          }
        }
      });
      ws.on("error", () => {});
      return new Promise((resolve, reject) => {
        ws.once("error", reject);
        ws.once("open", () => {
          void (async () => {
            await call({ connect: {} });
            if (room) {
              const sub = await call({ subscribe: { channel: room } });
              lastOffset = sub.subscribe?.offset ?? 0;
            }
            // Publishes are fire-and-forget (their replies are only checked for errors), as the other
            // adapters' sends.
            resolve({
              send: (text) => ws.send(JSON.stringify({ id: nextId++, publish: { channel: room, data: text } })),
              close: () => ws.close(),
            });
          })().catch(reject);
        });
      });
    },
    get seqGaps() {
      return gaps;
    },
    get sendErrors() {
      return errors;
    },
    teardown() {},
  };
};

/** The parts of a Centrifugo JSON reply or push the generator reads. */
interface CentrifugoReply {
  readonly id?: number;
  readonly error?: { code: number; message: string };
  readonly subscribe?: { offset?: number };
  readonly push?: { channel?: string; pub?: { data?: unknown; offset?: number } };
}

/** The given processes and all their descendants (PostgreSQL forks a backend per connection). */
const processTree = (roots: ReadonlyArray<number>): number[] => {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const todo = [...roots];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
};

/** Sums a per-process reading over the tree, skipping processes that exit while it is read. */
const overTree = (roots: ReadonlyArray<number>, read: (pid: number) => number): number => {
  let sum = 0;
  for (const pid of processTree(roots)) {
    try {
      sum += read(pid);
    } catch {
      // exited meanwhile
    }
  }
  return sum;
};

type CpuSample = Map<number, { user: number; system: number }>;
const sampleCpu = (roots: ReadonlyArray<number>): CpuSample => {
  const out: CpuSample = new Map();
  for (const pid of processTree(roots)) {
    try {
      out.set(pid, cpuTimes(pid));
    } catch {
      // exited meanwhile
    }
  }
  return out;
};
/** CPU used between two samples; a process that started in between counts from 0. */
const cpuBetween = (a: CpuSample, b: CpuSample): { user: number; system: number } => {
  let user = 0;
  let system = 0;
  for (const [pid, t] of b) {
    user += t.user - (a.get(pid)?.user ?? 0);
    system += t.system - (a.get(pid)?.system ?? 0);
  }
  return { user, system };
};

/**
 * Where a run's processes are. `urls`: the server's base URL, or a cluster's nodes' (connection i goes to node
 * i mod N). `pids`: the processes whose CPU counts (with their descendants); with several URLs the first N are
 * those nodes in the same order, the rest the cluster's other processes (PostgreSQL, Redis), named by
 * `pidNames`. `rssPids`: those whose memory holds the connections (default `pids`; a cluster's nodes only, as
 * PostgreSQL's shared buffers would count once per backend).
 */
export interface Target {
  readonly urls: ReadonlyArray<string>;
  readonly pids: ReadonlyArray<number>;
  readonly pidNames?: ReadonlyArray<string> | undefined;
  readonly rssPids?: ReadonlyArray<number> | undefined;
}

const loadAverage = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** `emit` gets each stage's result (and the ramp's capacity) as soon as it is measured. */
export const runGenerator = async (
  server: ServerKind,
  target: Target,
  o: GeneratorOptions,
  emit: (r: BenchResult | RampResult) => void,
  label: string = server,
): Promise<void> => {
  const { urls, pids } = target;
  const rssPids = target.rssPids ?? pids;
  const nodeCount = urls.length;
  const clustered = nodeCount > 1;
  if (nodeCount === 0) throw new Error("no server URL");
  if (clustered && pids.length < nodeCount) throw new Error(`${nodeCount} URLs need their ${nodeCount} node pids first in --pid`);
  const nameOf = (i: number) => target.pidNames?.[i] ?? (clustered && i < nodeCount ? `node${i + 1}` : String(pids[i]));
  const nodePids = clustered ? pids.slice(0, nodeCount) : [];
  const urlFor: UrlFor = (node) => urls[node]!;
  const adapter =
    server === "chat"
      ? chatAdapter(urlFor, nodeCount, o)
      : server === "raw-ws"
        ? rawAdapter(urlFor)
        : server === "centrifugo"
          ? centrifugoAdapter(urlFor)
          : socketIoAdapter(urlFor);
  await adapter.setup();
  const log = (s: string) => process.stderr.write(`  [${label}] ${s}\n`);

  // --- idle connections: RSS per connection (a cluster: also each node's growth over its share) ---
  await sleep(2000);
  const nodeRss = () => nodePids.map((p) => overTree([p], rssBytes));
  const rss0 = overTree(rssPids, rssBytes);
  const nodeRss0 = nodeRss();
  const idle = await pool(
    Array.from({ length: o.idle }, (_, i) => i),
    100,
    (i) => adapter.connect(undefined, i, nodeOf(i, nodeCount), () => {}),
  );
  await sleep(3000);
  const rss1 = overTree(rssPids, rssBytes);
  const nodeRss1 = nodeRss();
  const rssBytesPerConn = (rss1 - rss0) / o.idle;
  const nodeRssPerConn = nodeRss1.map((after, n) => rssPerConnection(nodeRss0[n]!, after, shareOf(o.idle, nodeCount, n)));
  log(
    `idle: ${o.idle} connections, RSS ${(rss0 / 2 ** 20).toFixed(1)} -> ${(rss1 / 2 ** 20).toFixed(1)} MiB, ${Math.round(rssBytesPerConn)} B each`,
  );
  if (clustered)
    log(
      `idle by node: ${nodePids.map((_, n) => `${nameOf(n)} ${shareOf(o.idle, nodeCount, n)} connections, ${Math.round(nodeRssPerConn[n]!)} B each`).join("; ")}`,
    );
  for (const c of idle) c.close();
  await sleep(1500);

  // --- load: the same rooms and members for every stage ---
  const codes = await adapter.rooms(o.rooms);
  const membersOn = membersByNode(o.rooms, o.members, nodeCount);
  // Per-stage state, reset by runStage; messages of an earlier stage that arrive late fall outside the window.
  let latency = new Samples();
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let receivedInWindow = 0;
  let deliveriesDuringWindow = 0;
  // A cluster: the same, per node (the node of the receiving connection).
  let latencyByNode: Samples[] = [];
  let receivedByNode: number[] = [];
  let deliveriesByNode: number[] = [];
  const onText = (text: string, at: number, node: number) => {
    const scheduled = Number(text.slice(0, text.indexOf(" ")));
    if (scheduled >= windowStart && scheduled < windowEnd) {
      latency.add(at - scheduled);
      if (DEBUG && at - scheduled > 50) slow.push([Math.round(scheduled - windowStart), Math.round(at - scheduled)]);
      receivedInWindow++;
      if (clustered) {
        latencyByNode[node]!.add(at - scheduled);
        receivedByNode[node]!++;
      }
    }
    if (at >= windowStart && at < windowEnd) {
      deliveriesDuringWindow++;
      if (clustered) deliveriesByNode[node]!++;
    }
  };
  const members = await pool(
    Array.from({ length: o.rooms * o.members }, (_, i) => i),
    50,
    (i) => {
      const room = Math.floor(i / o.members);
      const node = memberNodeOf(room, i % o.members, nodeCount);
      return adapter.connect(codes[room], i, node, (text, at) => onText(text, at, node));
    },
  );
  const senders: BenchClient[][] = codes.map((_, r) => members.slice(r * o.members, r * o.members + o.senders));
  log(`load: ${members.length} members in ${o.rooms} rooms${clustered ? ` over ${nodeCount} nodes` : ""}`);
  await sleep(1000);

  const pad = "x".repeat(o.textBytes);
  /** One open-model stage at `rate` messages/s: warm-up, measured window, drain. `tryNo`: a ramp step's try. */
  const runStage = async (
    stage: "point" | "ramp",
    rate: number,
    warmupSec: number,
    durationSec: number,
    tryNo = 1,
  ): Promise<BenchResult> => {
    log(
      `${stage}: ${rate.toFixed(1)} msg/s offered (${Math.round(rate * o.members)} deliveries/s), ${warmupSec} s warm-up + ${durationSec} s measured${stage === "ramp" && tryNo > 1 ? `, try ${tryNo}` : ""}`,
    );
    latency = new Samples();
    receivedInWindow = 0;
    deliveriesDuringWindow = 0;
    latencyByNode = Array.from({ length: nodeCount }, () => new Samples());
    receivedByNode = new Array<number>(nodeCount).fill(0);
    deliveriesByNode = new Array<number>(nodeCount).fill(0);
    const sentByRoom = new Array<number>(o.rooms).fill(0);
    const gaps0 = adapter.seqGaps;
    const loop = monitorEventLoopDelay({ resolution: 5 });
    const t0 = nowMs() + 20;
    windowStart = t0 + warmupSec * 1000;
    windowEnd = windowStart + durationSec * 1000;
    let sentInWindow = 0;
    let genCpuPercent = Number.NaN;
    // One sample per given pid (with its descendants), so a cluster's CPU can be told apart by process.
    let cpuStart: CpuSample[] = [];
    let cpuEnd: CpuSample[] = [];
    let syscwStart = Number.NaN;
    let syscwEnd = Number.NaN;
    let genCpu = process.cpuUsage();
    // Rounded to the microseconds the text carries, so sender and receivers agree on which side of the
    // window's edges a message falls.
    const scheduledAt = (j: number) => Math.round((t0 + (j * 1000) / rate) * 1000) / 1000;
    await new Promise<void>((resolve) => {
      let j = 0;
      let started = false;
      const tick = () => {
        const now = nowMs();
        if (!started && now >= windowStart) {
          cpuStart = pids.map((p) => sampleCpu([p]));
          syscwStart = overTree(pids, writeSyscalls);
          genCpu = process.cpuUsage();
          started = true;
          loop.enable();
        }
        for (let at = scheduledAt(j); at <= now && at < windowEnd; at = scheduledAt(j)) {
          const room = j % o.rooms;
          const roomSenders = senders[room]!;
          roomSenders[Math.floor(j / o.rooms) % roomSenders.length]!.send(
            `${at.toFixed(3)} ${j} ${pad}`.slice(0, Math.max(24, o.textBytes)),
          );
          if (at >= windowStart) {
            sentInWindow++;
            sentByRoom[room]!++;
          }
          j++;
        }
        const next = scheduledAt(j);
        if (next >= windowEnd) {
          const left = windowEnd - nowMs();
          if (left > 0) return void setTimeout(tick, left);
          cpuEnd = pids.map((p) => sampleCpu([p]));
          syscwEnd = overTree(pids, writeSyscalls);
          const g = process.cpuUsage(genCpu);
          genCpuPercent = (g.user + g.system) / 1e4 / durationSec;
          loop.disable();
          return resolve();
        }
        setTimeout(tick, Math.max(0, Math.min(next, started ? next : windowStart) - nowMs()));
      };
      setTimeout(tick, Math.max(0, t0 - nowMs()));
    });
    const loadAtEnd = loadAverage();
    const expected = sentInWindow * o.members;
    await waitUntil(() => receivedInWindow >= expected, 5000);
    const perPid = pids.map((_, i) => cpuBetween(cpuStart[i] ?? new Map(), cpuEnd[i] ?? new Map()));
    const cpuOf = (i: number) => perPid[i]!.user + perPid[i]!.system;
    const cpuUser = perPid.reduce((n, t) => n + t.user, 0);
    const cpuSystem = perPid.reduce((n, t) => n + t.system, 0);
    if (pids.length > 1)
      log(`CPU by process over the window: ${pids.map((p, i) => `${nameOf(i)} (${p}) ${cpuOf(i).toFixed(2)} s`).join(", ")}`);
    const cpu = cpuUser + cpuSystem;
    if (DEBUG) process.stderr.write(`slow (t since window, ms): ${JSON.stringify(slow.filter((_, i) => i % 50 === 0).slice(0, 200))}\n`);
    const seqGaps = adapter.seqGaps - gaps0;
    const deliveredRatio = expected === 0 ? Number.NaN : receivedInWindow / expected;
    const p99Ms = latency.quantile(0.99);
    const owed = expectedByNode(sentByRoom, membersOn);
    const cluster: ClusterSplit | undefined = clustered
      ? {
          nodes: nodePids.map((pid, n) => ({
            name: nameOf(n),
            pid,
            deliveries: deliveriesByNode[n]!,
            deliveriesPerSec: deliveriesByNode[n]! / durationSec,
            cpuUsPerDelivery: microsPer(cpuOf(n), deliveriesByNode[n]!),
            cpuPercent: (100 * cpuOf(n)) / durationSec,
            p50Ms: latencyByNode[n]!.quantile(0.5),
            p99Ms: latencyByNode[n]!.quantile(0.99),
            p999Ms: latencyByNode[n]!.quantile(0.999),
            deliveredRatio: owed[n] === 0 ? Number.NaN : receivedByNode[n]! / owed[n]!,
            rssBytesPerConn: nodeRssPerConn[n]!,
            idleConnections: shareOf(o.idle, nodeCount, n),
          })),
          services: pids.slice(nodeCount).map((pid, k) => ({
            name: nameOf(nodeCount + k),
            pid,
            cpuUsPerDelivery: microsPer(cpuOf(nodeCount + k), deliveriesDuringWindow),
            cpuUsPerMessage: microsPer(cpuOf(nodeCount + k), sentInWindow),
            cpuPercent: (100 * cpuOf(nodeCount + k)) / durationSec,
          })),
        }
      : undefined;
    const result: BenchResult = {
      server: label,
      stage,
      offeredDeliveriesPerSec: Math.round(rate * o.members),
      ...(stage === "ramp" ? { pass: passes({ p99Ms, deliveredRatio, seqGaps }), try: tryNo } : {}),
      cpuUsPerDelivery: (cpu * 1e6) / deliveriesDuringWindow,
      deliveriesPerCpuSec: deliveriesDuringWindow / cpu,
      p50Ms: latency.quantile(0.5),
      p99Ms,
      p999Ms: latency.quantile(0.999),
      maxMs: latency.quantile(1),
      deliveredRatio,
      rssBytesPerConn,
      serverCpuPercent: (100 * cpu) / durationSec,
      serverUserPercent: (100 * cpuUser) / durationSec,
      writeSyscallsPerDelivery: (syscwEnd - syscwStart) / deliveriesDuringWindow,
      serverSystemPercent: (100 * cpuSystem) / durationSec,
      deliveriesPerSec: deliveriesDuringWindow / durationSec,
      seqGaps,
      generatorLoopDelayP99Ms: loop.percentile(99) / 1e6,
      generatorCpuPercent: genCpuPercent,
      ...gcDuring(windowStart - performance.timeOrigin, windowEnd - performance.timeOrigin),
      sendErrors: adapter.sendErrors,
      loadAverage: loadAtEnd,
      ...(cluster ? { cluster } : {}),
    };
    // Let a backlog left by this stage clear before the next one starts.
    windowStart = windowEnd = Number.POSITIVE_INFINITY;
    await sleep(1000);
    return result;
  };

  for (const rate of o.rates) emit(await runStage("point", rate, o.warmupSec, o.durationSec));

  if (o.ramp) {
    const r = o.ramp;
    const maxSeconds = rampMaxSeconds(r);
    log(
      `ramp: up to ${r.steps} steps from ${r.fromDeliveries} deliveries/s (x${RAMP_FACTOR}) and ${RAMP_REFINE_STEPS} refining, up to ${r.tries} tries each: ends within ${Math.ceil(maxSeconds)} s`,
    );
    const rampStart = nowMs();
    /** A step is tried until one try passes or `tries` have failed (load/src/ramp.ts), with a pause between
     * tries (a failed try can leave the server backed up); the counted try is its result. */
    const step = async (rate: number): Promise<BenchResult> => {
      const runs: BenchResult[] = [];
      while (needsAnotherTry(runs, r.tries)) {
        if (runs.length > 0) await sleep(RAMP_PAUSE_SEC * 1000);
        const s = await runStage("ramp", rate, r.warmupSec, r.durationSec, runs.length + 1);
        emit(s);
        runs.push(s);
      }
      return countedTry(runs);
    };
    let passed: number | undefined;
    let failed: BenchResult | undefined;
    let rate = r.fromDeliveries / o.members;
    for (let k = 0; k < r.steps && !failed; k++, rate *= RAMP_FACTOR) {
      const s = await step(rate);
      if (s.pass) passed = rate;
      else failed = s;
    }
    if (failed && passed !== undefined) {
      let fail = failed.offeredDeliveriesPerSec / o.members;
      for (let k = 0; k < RAMP_REFINE_STEPS; k++) {
        await sleep(RAMP_PAUSE_SEC * 1000);
        const mid = Math.sqrt(passed * fail);
        const s = await step(mid);
        if (s.pass) passed = mid;
        else {
          fail = mid;
          failed = s;
        }
      }
    }
    const capacity: RampResult = {
      server: label,
      stage: "capacity",
      capacityDeliveriesPerSec: passed === undefined ? 0 : Math.round(passed * o.members),
      firstFailDeliveriesPerSec: failed?.offeredDeliveriesPerSec,
      failedOn: failed ? failureReason(failed) : undefined,
      generatorBound: (failed?.generatorCpuPercent ?? 0) >= 90,
      failedServerCpuPercent: failed?.serverCpuPercent,
      failedLoadAverage: failed?.loadAverage,
      tries: r.tries,
      maxSeconds: Math.ceil(maxSeconds),
      seconds: Math.round((nowMs() - rampStart) / 1000),
    };
    log(
      `capacity: ${capacity.capacityDeliveriesPerSec} deliveries/s${failed ? ` (failed at ${failed.offeredDeliveriesPerSec}: ${capacity.failedOn}, server CPU ${failed.serverCpuPercent.toFixed(0)}%, load ${failed.loadAverage})` : " (every step passed: a lower bound)"}; ramp took ${capacity.seconds} s (bound ${capacity.maxSeconds} s)`,
    );
    emit(capacity);
  }

  for (const m of members) m.close();
  adapter.teardown();
  await sleep(300);
};

/** "20000", "40k" → 20000, 40000 (deliveries/s). */
export const parseDeliveries = (s: string): number => {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k?)\s*$/i.exec(s);
  if (!m) throw new Error(`not a rate in deliveries/s: ${JSON.stringify(s)} (e.g. 40000 or 40k)`);
  return Number(m[1]) * (m[2] ? 1000 : 1);
};

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      server: { type: "string" },
      label: { type: "string" },
      url: { type: "string" },
      pid: { type: "string" },
      "pid-names": { type: "string" },
      "rss-pid": { type: "string" },
      rooms: { type: "string", default: "4" },
      members: { type: "string", default: "100" },
      senders: { type: "string", default: "5" },
      rate: { type: "string", default: "200" },
      points: { type: "string" },
      ramp: { type: "boolean", default: false },
      "ramp-from": { type: "string", default: String(RAMP_DEFAULTS.fromDeliveries) },
      "ramp-steps": { type: "string", default: String(RAMP_DEFAULTS.steps) },
      "ramp-seconds": { type: "string", default: String(RAMP_DEFAULTS.seconds) },
      "ramp-tries": { type: "string", default: String(RAMP_DEFAULTS.tries) },
      warmup: { type: "string", default: "5" },
      duration: { type: "string", default: "20" },
      idle: { type: "string", default: "2000" },
      "text-bytes": { type: "string", default: "64" },
      users: { type: "string", default: "40" },
    },
  });
  const server = values.server as ServerKind;
  const members = Number(values.members);
  // --points: offered deliveries/s, one stage each; --ramp alone: no fixed stage; otherwise the one --rate.
  const rates =
    values.points !== undefined
      ? values.points.split(",").map((p) => parseDeliveries(p) / members)
      : values.ramp
        ? []
        : [Number(values.rate)];
  const rampSteps = Number(values["ramp-steps"]);
  const rampSeconds = Number(values["ramp-seconds"]);
  const rampTries = Number(values["ramp-tries"]);
  if (!(Number.isInteger(rampSteps) && rampSteps >= 1 && rampSteps <= 20)) throw new Error("--ramp-steps must be 1..20");
  if (!(rampSeconds >= 2 && rampSeconds <= 120)) throw new Error("--ramp-seconds must be 2..120");
  if (!(Number.isInteger(rampTries) && rampTries >= 1 && rampTries <= 5)) throw new Error("--ramp-tries must be 1..5");
  const list = (s: string) => s.split(",").map((x) => x.trim());
  const pids = list(values.pid!).map(Number);
  await runGenerator(
    server,
    {
      urls: list(values.url!),
      pids,
      pidNames: values["pid-names"] !== undefined ? list(values["pid-names"]) : undefined,
      rssPids: values["rss-pid"] !== undefined ? list(values["rss-pid"]).map(Number) : pids,
    },
    {
      rooms: Number(values.rooms),
      members,
      senders: Number(values.senders),
      rates,
      ramp: values.ramp
        ? {
            fromDeliveries: parseDeliveries(values["ramp-from"]),
            steps: rampSteps,
            tries: rampTries,
            warmupSec: RAMP_DEFAULTS.warmupSec,
            durationSec: rampSeconds,
          }
        : undefined,
      warmupSec: Number(values.warmup),
      durationSec: Number(values.duration),
      idle: Number(values.idle),
      textBytes: Number(values["text-bytes"]),
      users: Number(values.users),
    },
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    values.label ?? server,
  );
  process.exit(0);
}
