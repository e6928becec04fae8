// npm run bench [-- --json] [-- --rate 200 --rooms 4 --members 100 --duration 20 --idle 2000 …]
//                [-- --points 20k,40k,80k] [-- --ramp [--ramp-from 10k --ramp-steps 8 --ramp-seconds 10 --ramp-tries 3]]
//
// Starts, in turn and pinned to CPU 0 (taskset -c 0), the chat server, a naive raw `ws` room-broadcast
// server (the floor) and a Socket.IO 4.8 server (and, when named, Centrifugo 6.9), drives each with the
// same offered load from load/bench/generator.ts pinned to CPU 1, and prints a table: server CPU per
// delivery and deliveries per server CPU-second, p50/p99/p99.9 latency from the scheduled send time,
// delivered ratio and RSS per idle connection, each also as a ratio to the raw floor. --points runs one such
// table per offered rate (deliveries/s) on the same connections; --ramp runs the capacity ramp (see
// generator.ts) and prints each server's capacity. --json prints one JSON object per line, server and stage
// instead. The full figures go to artifacts/bench.json either way.
// `--servers chat-cluster` (not in the default list) runs two chat nodes with PostgreSQL and Redis
// (scripts/cluster.ts), all pinned to CPU 0 with the generator alone on CPU 1, as the single server; the
// generator connects to each node directly (spread evenly, load/src/per-node.ts; not through HAProxy) so it knows
// which node made each delivery. Its row's CPU figure is the sum over the nodes, Redis and PostgreSQL (every
// backend); a second table splits it: each node over its own deliveries, PostgreSQL and Redis apart.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { clusterPids, startCluster } from "../../scripts/cluster.ts";
import { cpuSeconds } from "../src/proc.ts";
import { chatServerArgv, loadServerFlags, repoRoot, type RunningServer, startProcess, wrapCommand } from "../src/server-process.ts";
import { RAMP_DEFAULTS, RAMP_P99_LIMIT_MS, rampMaxSeconds } from "../src/ramp.ts";
import { type BenchResult, type NodeFigures, type RampResult, type ServerKind } from "./generator.ts";
import { measureFsync } from "./fsync.ts";

/** The servers the bench can run: the four of the table (centrifugo opt in), and the chat server with its
 * database in memory (/dev/shm), which shows what the fsync before each delivery costs. */
type BenchKind = ServerKind | "chat-tmpfs" | "chat-cluster";
const KINDS: ReadonlyArray<BenchKind> = ["chat", "chat-tmpfs", "chat-cluster", "raw-ws", "socket.io", "centrifugo"];

const GENERATOR_OPTIONS = [
  "rooms",
  "members",
  "senders",
  "rate",
  "points",
  "ramp-from",
  "ramp-steps",
  "ramp-seconds",
  "ramp-tries",
  "warmup",
  "duration",
  "idle",
  "text-bytes",
  "users",
] as const;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    json: { type: "boolean", default: false },
    servers: { type: "string", default: "chat,raw-ws,socket.io" },
    "cpu-prof": { type: "boolean", default: false },
    ramp: { type: "boolean", default: false },
    ...Object.fromEntries(GENERATOR_OPTIONS.map((k) => [k, { type: "string" as const }])),
  },
});

const FILES = 65_536;
/** Server and generator run at nice -20 when the bench runs as root (other work yields to them); BENCH_REALTIME=0 turns it off. */
const REALTIME = process.env.BENCH_REALTIME !== "0";
/** The generator options given on the command line, passed through as they are. */
const passThrough = values as Record<string, string | boolean | undefined>;

/** --cpu-prof: each server writes a V8 CPU profile to artifacts/profiles/<server>-….cpuprofile when it stops. */
const nodeFlags = (kind: BenchKind): string[] =>
  values["cpu-prof"]
    ? ["--cpu-prof", "--cpu-prof-dir", join(repoRoot, "artifacts/profiles"), "--cpu-prof-name", `${kind}-\${pid}.cpuprofile`]
    : [];

const CHAT_BENCH_FLAGS = ["--rate-limit-per-sec", "1000", "--rate-limit-burst", "2000", "--outbox-frames", "8192"];

/**
 * Centrifugo's configuration for the bench (v6 layout): memory engine, anonymous clients may connect, subscribe
 * and publish in any channel, history of 100 publications for 300 s with positioning and recovery forced (so
 * each publication is numbered and kept, its nearest analogue of the chat server's store; in memory, no
 * fsync). The port comes from CENTRIFUGO_HTTP_SERVER_PORT; /health is the readiness check.
 */
const CENTRIFUGO_CONFIG = {
  log: { level: "error" },
  http_server: { address: "127.0.0.1" },
  health: { enabled: true },
  engine: { type: "memory" },
  client: { allow_anonymous_connect_without_token: true },
  channel: {
    without_namespace: {
      allow_subscribe_for_anonymous: true,
      allow_subscribe_for_client: true,
      allow_publish_for_subscriber: true,
      allow_publish_for_anonymous: true,
      history_size: 100,
      history_ttl: "300s",
      force_positioning: true,
      force_recovery: true,
    },
  },
};
const centrifugoConfigFile = join(repoRoot, "artifacts/bench-centrifugo-config.json");
let centrifugoBinary = "";

/** Builds (once, cached under .cache/centrifugo/) and locates the Centrifugo binary; only when it is asked for. */
const prepareCentrifugo = () => {
  const built = spawnSync(join(repoRoot, "load/bench/centrifugo-install.sh"), {
    cwd: repoRoot,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (built.status !== 0) throw new Error("could not build Centrifugo (load/bench/centrifugo-install.sh); leave it out of --servers");
  centrifugoBinary = built.stdout.trim();
  mkdirSync(join(repoRoot, "artifacts"), { recursive: true });
  writeFileSync(centrifugoConfigFile, `${JSON.stringify(CENTRIFUGO_CONFIG, null, 2)}\n`);
};

const serverArgv = (kind: Exclude<BenchKind, "chat-cluster">): string[] => {
  switch (kind) {
    case "chat":
    case "chat-tmpfs":
      return chatServerArgv(CHAT_BENCH_FLAGS, nodeFlags(kind));
    case "raw-ws":
      return [process.execPath, ...nodeFlags(kind), "load/bench/raw-ws-server.ts", "--port", "{port}"];
    case "socket.io":
      return [process.execPath, ...nodeFlags(kind), "load/bench/socketio-server.ts", "--port", "{port}"];
    case "centrifugo":
      return [centrifugoBinary, "--config", centrifugoConfigFile];
  }
};

/** Per-kind readiness path, WebSocket path and environment (Centrifugo: one Go thread on its one CPU). */
const serverShape = (kind: Exclude<BenchKind, "chat-cluster">) =>
  kind === "centrifugo"
    ? { healthPath: "/health", wsPath: "/connection/websocket", env: { GOMAXPROCS: "1", CENTRIFUGO_HTTP_SERVER_PORT: "{port}" } }
    : { healthPath: "/healthz", wsPath: "/ws", env: undefined };

/** Every thread of the processes and their descendants onto `cpus`, at nice -20 when root and REALTIME. */
const pinTree = (pids: ReadonlyArray<number>, cpus: string) => {
  const all = new Set<number>(pids);
  const pairs = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" })
    .stdout.trim()
    .split("\n")
    .map((l) => l.trim().split(/\s+/).map(Number));
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of pairs)
      if (pid !== undefined && ppid !== undefined && all.has(ppid) && !all.has(pid)) grew = all.add(pid) !== undefined;
  }
  for (const pid of all) {
    spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
    if (REALTIME && process.getuid?.() === 0) spawnSync("renice", ["-n", "-20", "-p", String(pid)], { stdio: "ignore" });
  }
};

/** What runOne measures and stops: one process, or a cluster's (`pids`: the nodes first, in `urls` order,
 * then PostgreSQL and Redis, named by `pidNames`; HAProxy's apart). */
type Measured = Pick<RunningServer, "pid" | "httpUrl" | "stop"> & {
  urls?: string[];
  pids?: number[];
  pidNames?: string[];
  rssPids?: number[];
  haproxyPid?: number | undefined;
};

/**
 * Two nodes, PostgreSQL and Redis, all on CPU 0. Two cores cannot give each its own: the generator keeps CPU 1
 * to itself (its timers and receipt times are the latency clock, and its CPU must not count as the server's),
 * and the cluster gets the one core the single server gets, so the two rows compare CPU time on the same
 * budget. CPU time per process is exact whatever shares the core (the kernel accounts it per thread); what
 * sharing costs is latency: a node that is ready waits while the other node, PostgreSQL or Redis runs, which
 * separate machines would not add. HAProxy runs (the cluster's shape) but the generator bypasses it.
 */
const startChatCluster = async (): Promise<Measured> => {
  const flags = new Map(Object.entries(loadServerFlags));
  for (let i = 0; i < CHAT_BENCH_FLAGS.length; i += 2) flags.set(CHAT_BENCH_FLAGS[i]!, CHAT_BENCH_FLAGS[i + 1]!);
  const cluster = await startCluster({
    nodes: 2,
    nodeArgs: [...flags].flat(),
    nodeFlags: nodeFlags("chat-cluster"),
    logs: { dir: join(repoRoot, "artifacts/bench-chat-cluster-logs") },
  });
  const p = clusterPids(cluster);
  if (p.nodes.length !== cluster.nodes.length) throw new Error("a cluster node is not running");
  const services = [
    ...(p.postgres !== undefined ? [["postgres", p.postgres] as const] : []),
    ...(p.redis !== undefined ? [["redis", p.redis] as const] : []),
  ];
  const pids = [...p.nodes, ...services.map(([, pid]) => pid)];
  process.stderr.write(
    `bench: chat-cluster: nodes ${p.nodes.join(",")}, redis ${p.redis}, postgres ${p.postgres} (with its backends), haproxy ${p.haproxy} (bypassed)\n`,
  );
  pinTree([...pids, ...(p.haproxy !== undefined ? [p.haproxy] : [])], "0");
  return {
    pid: p.nodes[0]!,
    urls: cluster.nodes.map((n) => n.url),
    pids,
    pidNames: [...cluster.nodes.map((n) => n.name), ...services.map(([name]) => name)],
    rssPids: p.nodes,
    haproxyPid: p.haproxy,
    httpUrl: cluster.url,
    stop: async () => {
      const codes = await cluster.stop();
      return codes.find((c) => c !== 0) ?? 0;
    },
  };
};

type StageLine = BenchResult | RampResult;

const runOne = async (kind: BenchKind): Promise<StageLine[]> => {
  let server: Measured | undefined;
  try {
    server =
      kind === "chat-cluster"
        ? await startChatCluster()
        : await startProcess({
            argv: serverArgv(kind),
            cpus: "0",
            fileLimit: FILES,
            realtime: REALTIME,
            ...serverShape(kind),
            logFile: join(repoRoot, `artifacts/bench-${kind.replace(".", "")}-server.log`),
            dataParent: kind === "chat-tmpfs" ? "/dev/shm" : undefined,
          });
    const genArgs = [
      "--server",
      kind === "chat-tmpfs" || kind === "chat-cluster" ? "chat" : kind,
      "--label",
      kind,
      "--url",
      (server.urls ?? [server.httpUrl]).join(","),
      "--pid",
      (server.pids ?? [server.pid]).join(","),
      ...(server.pidNames ? ["--pid-names", server.pidNames.join(",")] : []),
      "--rss-pid",
      (server.rssPids ?? [server.pid]).join(","),
    ];
    for (const k of GENERATOR_OPTIONS) {
      const v = passThrough[k];
      if (typeof v === "string") genArgs.push(`--${k}`, v);
    }
    if (values.ramp) genArgs.push("--ramp");
    const argv = wrapCommand([process.execPath, "load/bench/generator.ts", ...genArgs], {
      cpus: "1",
      fileLimit: FILES,
      realtime: REALTIME,
    });
    process.stderr.write(
      `bench: ${kind} (server pid${server.pids ? `s ${server.pids.join(",")}` : ` ${server.pid}`} on CPU 0, generator on CPU 1)\n`,
    );
    const haproxyCpu0 = server.haproxyPid !== undefined ? cpuSeconds(server.haproxyPid) : 0;
    const child = spawn(argv[0]!, argv.slice(1), { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    const lines = out
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("{"));
    if (code !== 0 || lines.length === 0) throw new Error(`generator for ${kind} exited with ${code}`);
    if (server.haproxyPid !== undefined)
      process.stderr.write(
        `bench: ${kind}: HAProxy used ${(cpuSeconds(server.haproxyPid) - haproxyCpu0).toFixed(2)} CPU-s over the whole run (not in the figures)\n`,
      );
    return lines.map((l) => JSON.parse(l) as StageLine);
  } finally {
    await server?.stop();
  }
};

const kinds = values.servers.split(",").map((s) => s.trim()) as BenchKind[];
const unknown = kinds.filter((k) => !KINDS.includes(k));
if (unknown.length > 0) throw new Error(`unknown --servers ${unknown.join(",")} (known: ${KINDS.join(", ")})`);
if (kinds.includes("centrifugo")) prepareCentrifugo();
const loadAtStart = loadAverage();
process.stderr.write(`bench: load average at the start ${loadAtStart}\n`);
// The disk under the chat server's database (the data dirs are made under tmpdir()), as it is right now: the
// fsync before each delivery makes this the floor of chat's latency, so each table records it.
const fsyncAtStart = measureFsync(tmpdir(), 300);
if (values.ramp) {
  const opt = (k: string, d: number) => (typeof passThrough[k] === "string" ? Number(passThrough[k]) : d);
  const bound = rampMaxSeconds({
    steps: opt("ramp-steps", RAMP_DEFAULTS.steps),
    tries: opt("ramp-tries", RAMP_DEFAULTS.tries),
    warmupSec: RAMP_DEFAULTS.warmupSec,
    durationSec: opt("ramp-seconds", RAMP_DEFAULTS.seconds),
  });
  process.stderr.write(
    `bench: each server's ramp ends within ${Math.ceil(bound / 60)} min (every step using all its tries; plus connection setup)\n`,
  );
}
const lines: StageLine[] = [];
for (const kind of kinds) lines.push(...(await runOne(kind)));
const points = lines.filter((r): r is BenchResult => r.stage === "point");
const rampSteps = lines.filter((r): r is BenchResult => r.stage === "ramp");
const capacities = lines.filter((r): r is RampResult => r.stage === "capacity");

mkdirSync(join(repoRoot, "artifacts"), { recursive: true });
writeFileSync(
  join(repoRoot, "artifacts/bench.json"),
  `${JSON.stringify({ options: { ...Object.fromEntries(GENERATOR_OPTIONS.map((k) => [k, passThrough[k]])), ramp: values.ramp }, loadAverage: { start: loadAtStart, end: loadAverage() }, fsyncAtStart, results: points, ramp: rampSteps, capacity: capacities }, null, 2)}\n`,
);

/** What each server does and does not do, printed beside its figures so the comparison is read fairly. */
const DOES: Record<string, string> = {
  chat: "protobuf protocol, auth, seq, SQLite fsync before delivery",
  "chat-tmpfs": "as chat, database in /dev/shm",
  "chat-cluster": "2 nodes, PostgreSQL, Redis",
  "raw-ws": "floor: echo to room, no protocol/auth/storage",
  "socket.io": "Socket.IO 4.8 rooms, no auth/storage",
  centrifugo: "Go, JSON, history in memory (offsets), no fsync, no auth",
};

/** 1, 5 and 15 minute load averages: on a shared machine, the context every latency figure needs. */
function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

const table = (rows: string[][]) => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const fmtRow = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return `${fmtRow(rows[0]!)}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|\n${rows.slice(1).map(fmtRow).join("\n")}\n`;
};

if (values.json) {
  for (const r of points) {
    const { server, offeredDeliveriesPerSec, cpuUsPerDelivery, p50Ms, p99Ms, p999Ms, deliveredRatio, rssBytesPerConn } = r;
    const extra = { loadAverage: r.loadAverage, ...(r.cluster ? { cluster: r.cluster } : {}) };
    process.stdout.write(
      `${JSON.stringify({ server, offeredDeliveriesPerSec, cpuUsPerDelivery, p50Ms, p99Ms, p999Ms, deliveredRatio, rssBytesPerConn, ...extra })}\n`,
    );
  }
  for (const c of capacities) process.stdout.write(`${JSON.stringify(c)}\n`);
} else {
  const cell = (v: number, base: number | undefined, digits: number) =>
    `${v.toFixed(digits)}${base !== undefined && base !== 0 && Number.isFinite(base) ? ` (${(v / base).toFixed(2)}x)` : ""}`;
  for (const offered of new Set(points.map((r) => r.offeredDeliveriesPerSec))) {
    const here = points.filter((r) => r.offeredDeliveriesPerSec === offered);
    const floor = here.find((r) => r.server === "raw-ws");
    const rows: string[][] = [
      [
        "server",
        "CPU µs/delivery",
        "deliveries/CPU-s",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "delivered",
        "RSS B/idle conn",
        "server CPU %",
        "gen CPU %",
        "gen GC max / total ms",
        "does",
      ],
    ];
    for (const r of here) {
      rows.push([
        r.server,
        cell(r.cpuUsPerDelivery, floor?.cpuUsPerDelivery, 2),
        cell(r.deliveriesPerCpuSec, floor?.deliveriesPerCpuSec, 0),
        cell(r.p50Ms, floor?.p50Ms, 2),
        cell(r.p99Ms, floor?.p99Ms, 2),
        cell(r.p999Ms, floor?.p999Ms, 2),
        r.deliveredRatio.toFixed(5),
        cell(r.rssBytesPerConn, floor?.rssBytesPerConn, 0),
        r.serverCpuPercent.toFixed(1),
        r.generatorCpuPercent.toFixed(0),
        `${r.generatorGcMaxMs.toFixed(1)} / ${r.generatorGcTotalMs.toFixed(0)}`,
        DOES[r.server] ?? "",
      ]);
    }
    process.stdout.write(
      `\n${offered} deliveries/s offered (load average at the end of each window: ${here.map((r) => `${r.server} ${r.loadAverage}`).join("; ")}):\n${table(rows)}`,
    );
    // A cluster's row split by process: each node over the deliveries it made itself (ratios to the floor
    // and to the single chat server of this rate), PostgreSQL and Redis over all of the cluster's deliveries.
    const single = here.find((r) => r.server === "chat");
    for (const r of here) {
      if (!r.cluster) continue;
      const split: string[][] = [
        [
          "part",
          "CPU µs/delivery",
          "vs chat",
          "CPU µs/message",
          "CPU %",
          "deliveries/s",
          "p50 ms",
          "p99 ms",
          "p99.9 ms",
          "delivered",
          "RSS B/idle conn",
        ],
      ];
      const ratio = (v: number, base: number | undefined) =>
        base !== undefined && base !== 0 && Number.isFinite(base) && Number.isFinite(v) ? `${(v / base).toFixed(2)}x` : "";
      /** A part that makes deliveries (a node, or the whole cluster): every column. */
      const delivering = (
        label: string,
        f: Pick<NodeFigures, "cpuUsPerDelivery" | "cpuPercent" | "deliveriesPerSec" | "p50Ms" | "p99Ms" | "p999Ms" | "deliveredRatio">,
        rss: string,
      ) => [
        label,
        cell(f.cpuUsPerDelivery, floor?.cpuUsPerDelivery, 2),
        ratio(f.cpuUsPerDelivery, single?.cpuUsPerDelivery),
        "",
        f.cpuPercent.toFixed(1),
        f.deliveriesPerSec.toFixed(0),
        cell(f.p50Ms, floor?.p50Ms, 2),
        cell(f.p99Ms, floor?.p99Ms, 2),
        f.p999Ms.toFixed(2),
        f.deliveredRatio.toFixed(5),
        rss,
      ];
      for (const n of r.cluster.nodes)
        split.push(
          delivering(
            `${n.name} (its own deliveries)`,
            n,
            `${cell(n.rssBytesPerConn, floor?.rssBytesPerConn, 0)} over ${n.idleConnections}`,
          ),
        );
      for (const sv of r.cluster.services)
        split.push([
          `${sv.name} (all deliveries)`,
          sv.cpuUsPerDelivery.toFixed(2),
          ratio(sv.cpuUsPerDelivery, single?.cpuUsPerDelivery),
          sv.cpuUsPerMessage.toFixed(1),
          sv.cpuPercent.toFixed(1),
          "",
          "",
          "",
          "",
          "",
          "",
        ]);
      split.push(
        delivering(
          "whole cluster (all deliveries)",
          { ...r, cpuPercent: r.serverCpuPercent },
          cell(r.rssBytesPerConn, floor?.rssBytesPerConn, 0),
        ),
      );
      process.stdout.write(
        `${r.server} by process (all on CPU 0; each node's connections made directly to it; ratios in brackets to raw-ws):\n${table(split)}`,
      );
    }
  }
  if (points.length > 0)
    process.stdout.write("(ratios are to raw-ws, the floor; latency from the scheduled send time; figures in artifacts/bench.json)\n");
  if (capacities.length > 0) {
    const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
    const rows: string[][] = [
      [
        "server",
        "capacity deliveries/s",
        "first failure",
        "there: server CPU %, load avg",
        "steps (offered: p99 ms of each try [1-min load avg], ✗ failed)",
        "ramp s (bound)",
        "does",
      ],
    ];
    for (const c of capacities) {
      const mine = rampSteps.filter((r) => r.server === c.server);
      const steps: string[] = [];
      for (const r of mine) {
        const tryText = `${r.p99Ms.toFixed(1)}${r.pass ? "" : " ✗"} [${r.loadAverage.split(" ")[0]}]`;
        if ((r.try ?? 1) > 1 && steps.length > 0) steps[steps.length - 1] += ` / ${tryText}`;
        else steps.push(`${k(r.offeredDeliveriesPerSec)}: ${tryText}`);
      }
      rows.push([
        c.server,
        `${c.firstFailDeliveriesPerSec === undefined ? "≥ " : ""}${c.capacityDeliveriesPerSec}`,
        c.firstFailDeliveriesPerSec === undefined
          ? "none"
          : `${c.firstFailDeliveriesPerSec}: ${c.failedOn}${c.generatorBound ? " (generator ≥ 90% CPU: may be the generator's limit)" : ""}`,
        c.failedServerCpuPercent === undefined ? "" : `${c.failedServerCpuPercent.toFixed(0)}%, ${c.failedLoadAverage}`,
        steps.join(", "),
        `${c.seconds} (${c.maxSeconds})`,
        DOES[c.server] ?? "",
      ]);
    }
    const tries = capacities[0]!.tries;
    process.stdout.write(
      `\ncapacity (highest offered rate that one of up to ${tries} tries held with p99 < ${RAMP_P99_LIMIT_MS} ms and every message delivered; load/README.md):\n${table(rows)}`,
    );
  }
  process.stdout.write(`load average (1/5/15 min) at the start ${loadAtStart}, at the end ${loadAverage()}\n`);
  const ms = (n: number) => n.toFixed(2);
  process.stdout.write(
    `fsync of a 4 KiB append in ${tmpdir()} at the start (${fsyncAtStart.count}): p50 ${ms(fsyncAtStart.p50Ms)} ms, p99 ${ms(fsyncAtStart.p99Ms)} ms, max ${ms(fsyncAtStart.maxMs)} ms\n`,
  );
}
