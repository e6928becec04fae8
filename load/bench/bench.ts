// npm run bench [-- --json] [-- --rate 200 --rooms 4 --members 100 --duration 20 --idle 2000 …]
//
// Starts, in turn and pinned to CPU 0 (taskset -c 0), the chat server, a naive raw `ws` room-broadcast
// server (the floor) and a Socket.IO 4.8 server, drives each with the same offered load from
// load/bench/generator.ts pinned to CPU 1, and prints a table: server CPU per delivery and deliveries per
// server CPU-second, p50/p99/p99.9 latency from the scheduled send time, delivered ratio and RSS per idle
// connection, each also as a ratio to the raw floor. --json prints one JSON object per line and server
// instead. The full figures go to artifacts/bench.json either way.
// `--servers chat-cluster` (not in the default list) runs two chat nodes with PostgreSQL and Redis
// (scripts/cluster.ts), all pinned to CPU 0, the generator connecting through HAProxy; its CPU figure is
// the sum over the nodes, Redis and PostgreSQL (every backend); HAProxy's CPU is printed apart.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { clusterPids, startCluster } from "../../scripts/cluster.ts";
import { cpuSeconds } from "../src/proc.ts";
import { chatServerArgv, loadServerFlags, repoRoot, type RunningServer, startProcess, wrapCommand } from "../src/server-process.ts";
import type { BenchResult, ServerKind } from "./generator.ts";

/** The servers the bench can run: the three of the table, and the chat server with its database in memory
 * (/dev/shm), which shows what the fsync before each delivery costs. */
type BenchKind = ServerKind | "chat-tmpfs" | "chat-cluster";

const GENERATOR_OPTIONS = ["rooms", "members", "senders", "rate", "warmup", "duration", "idle", "text-bytes", "users"] as const;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    json: { type: "boolean", default: false },
    servers: { type: "string", default: "chat,raw-ws,socket.io" },
    "cpu-prof": { type: "boolean", default: false },
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
  values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", join(repoRoot, "artifacts/profiles"), "--cpu-prof-name", `${kind}-\${pid}.cpuprofile`] : [];

const CHAT_BENCH_FLAGS = ["--rate-limit-per-sec", "1000", "--rate-limit-burst", "2000", "--outbox-frames", "8192"];

const serverArgv = (kind: Exclude<BenchKind, "chat-cluster">): string[] => {
  switch (kind) {
    case "chat":
    case "chat-tmpfs":
      return chatServerArgv(CHAT_BENCH_FLAGS, nodeFlags(kind));
    case "raw-ws":
      return [process.execPath, ...nodeFlags(kind), "load/bench/raw-ws-server.ts", "--port", "{port}"];
    case "socket.io":
      return [process.execPath, ...nodeFlags(kind), "load/bench/socketio-server.ts", "--port", "{port}"];
  }
};

/** Every thread of the processes and their descendants onto `cpus`, at nice -20 when root and REALTIME. */
const pinTree = (pids: ReadonlyArray<number>, cpus: string) => {
  const all = new Set<number>(pids);
  const pairs = spawnSync("ps", ["-e", "-o", "pid=,ppid="], { encoding: "utf8" }).stdout.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of pairs) if (pid !== undefined && ppid !== undefined && all.has(ppid) && !all.has(pid)) grew = all.add(pid) !== undefined;
  }
  for (const pid of all) {
    spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
    if (REALTIME && process.getuid?.() === 0) spawnSync("renice", ["-n", "-20", "-p", String(pid)], { stdio: "ignore" });
  }
};

/** What runOne measures and stops: one process, or a cluster's (`pids`, with HAProxy's apart). */
type Measured = Pick<RunningServer, "pid" | "httpUrl" | "stop"> & { pids?: number[]; rssPids?: number[]; haproxyPid?: number | undefined };

/** Two nodes, PostgreSQL and Redis on CPU 0, HAProxy in front. */
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
  const pids = [...p.nodes, ...(p.redis !== undefined ? [p.redis] : []), ...(p.postgres !== undefined ? [p.postgres] : [])];
  process.stderr.write(`bench: chat-cluster: nodes ${p.nodes.join(",")}, redis ${p.redis}, postgres ${p.postgres} (with its backends), haproxy ${p.haproxy}\n`);
  pinTree([...pids, ...(p.haproxy !== undefined ? [p.haproxy] : [])], "0");
  return {
    pid: p.nodes[0]!,
    pids,
    rssPids: p.nodes,
    haproxyPid: p.haproxy,
    httpUrl: cluster.url,
    stop: async () => {
      const codes = await cluster.stop();
      return codes.find((c) => c !== 0) ?? 0;
    },
  };
};

const runOne = async (kind: BenchKind): Promise<BenchResult> => {
  let server: Measured | undefined;
  try {
    server = kind === "chat-cluster" ? await startChatCluster() : await startProcess({
      argv: serverArgv(kind),
      cpus: "0",
      fileLimit: FILES,
      realtime: REALTIME,
      healthPath: "/healthz",
      wsPath: "/ws",
      logFile: join(repoRoot, `artifacts/bench-${kind.replace(".", "")}-server.log`),
      dataParent: kind === "chat-tmpfs" ? "/dev/shm" : undefined,
    });
    const genArgs = ["--server", kind === "chat-tmpfs" || kind === "chat-cluster" ? "chat" : kind, "--label", kind, "--url", server.httpUrl, "--pid", (server.pids ?? [server.pid]).join(","), "--rss-pid", (server.rssPids ?? [server.pid]).join(",")];
    for (const k of GENERATOR_OPTIONS) {
      const v = passThrough[k];
      if (typeof v === "string") genArgs.push(`--${k}`, v);
    }
    const argv = wrapCommand([process.execPath, "load/bench/generator.ts", ...genArgs], { cpus: "1", fileLimit: FILES, realtime: REALTIME });
    process.stderr.write(`bench: ${kind} (server pid${server.pids ? `s ${server.pids.join(",")}` : ` ${server.pid}`} on CPU 0, generator on CPU 1)\n`);
    const haproxyCpu0 = server.haproxyPid !== undefined ? cpuSeconds(server.haproxyPid) : 0;
    const child = spawn(argv[0]!, argv.slice(1), { cwd: repoRoot, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    const line = out.trim().split("\n").at(-1);
    if (code !== 0 || !line) throw new Error(`generator for ${kind} exited with ${code}`);
    if (server.haproxyPid !== undefined) process.stderr.write(`bench: ${kind}: HAProxy used ${(cpuSeconds(server.haproxyPid) - haproxyCpu0).toFixed(2)} CPU-s over the whole run (not in the figures)\n`);
    return JSON.parse(line) as BenchResult;
  } finally {
    await server?.stop();
  }
};

const kinds = values.servers.split(",").map((s) => s.trim()) as BenchKind[];
const results: BenchResult[] = [];
for (const kind of kinds) results.push(await runOne(kind));

mkdirSync(join(repoRoot, "artifacts"), { recursive: true });
writeFileSync(join(repoRoot, "artifacts/bench.json"), `${JSON.stringify({ options: Object.fromEntries(GENERATOR_OPTIONS.map((k) => [k, passThrough[k]])), results }, null, 2)}\n`);

if (values.json) {
  for (const r of results) {
    const { server, cpuUsPerDelivery, p50Ms, p99Ms, p999Ms, deliveredRatio, rssBytesPerConn } = r;
    process.stdout.write(`${JSON.stringify({ server, cpuUsPerDelivery, p50Ms, p99Ms, p999Ms, deliveredRatio, rssBytesPerConn })}\n`);
  }
} else {
  const floor = results.find((r) => r.server === "raw-ws");
  const cell = (v: number, base: number | undefined, digits: number) =>
    `${v.toFixed(digits)}${base !== undefined && base !== 0 && Number.isFinite(base) ? ` (${(v / base).toFixed(2)}x)` : ""}`;
  const rows: string[][] = [["server", "CPU µs/delivery", "deliveries/CPU-s", "p50 ms", "p99 ms", "p99.9 ms", "delivered", "RSS B/idle conn", "server CPU %"]];
  for (const r of results) {
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
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const fmtRow = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  process.stdout.write(`${fmtRow(rows[0]!)}\n|${widths.map((w) => "-".repeat(w + 2)).join("|")}|\n${rows.slice(1).map(fmtRow).join("\n")}\n`);
  process.stdout.write("(ratios are to raw-ws, the floor; latency from the scheduled send time; figures in artifacts/bench.json)\n");
}
