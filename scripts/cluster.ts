// N chat nodes on one machine: a throwaway PostgreSQL and Redis (or existing ones), the nodes as child
// processes, and HAProxy in front (round-robin, no stickiness). `npm run cluster` runs it until Ctrl-C; the
// cluster tests, the conformance step and the bench use startCluster() to kill, stop and restart nodes.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort, type Haproxy, type Postgres, type Redis, startHaproxy, startPostgres, startRedis } from "./services.ts";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(repoRoot, "server/src/main.ts");

/** Which of the cluster's flags the server in this checkout understands (read from its --help). */
export interface ServerFeatures {
  readonly databaseUrl: boolean;
  readonly redisUrl: boolean;
  readonly nodeId: boolean;
  readonly trustedProxies: boolean;
  readonly proxyProtocol: boolean;
}

let featuresCache: ServerFeatures | undefined;
export const serverFeatures = (): ServerFeatures => {
  if (featuresCache) return featuresCache;
  const r = spawnSync(process.execPath, [MAIN, "--help"], { encoding: "utf8", cwd: repoRoot });
  if (r.status !== 0) throw new Error(`server --help failed (${r.status}): ${r.stderr}`);
  const has = (flag: string) => r.stdout.includes(`--${flag} `);
  featuresCache = {
    databaseUrl: has("database-url"),
    redisUrl: has("redis-url"),
    nodeId: has("node-id"),
    trustedProxies: has("trusted-proxies"),
    proxyProtocol: has("proxy-protocol"),
  };
  return featuresCache;
};

/** Why this checkout cannot run a multi-node cluster, or undefined when it can. */
export const clusterUnsupported = (f: ServerFeatures = serverFeatures()): string | undefined => {
  const missing = [
    f.databaseUrl ? "" : "--database-url (PostgreSQL store)",
    f.redisUrl ? "" : "--redis-url (Redis bus and presence)",
    f.nodeId ? "" : "--node-id",
  ].filter(Boolean);
  return missing.length === 0 ? undefined : `the server has no ${missing.join(", ")}`;
};

export interface ClusterOptions {
  readonly nodes: number;
  /** The balancer's port (default: a free one). */
  readonly port?: number;
  /** Use this PostgreSQL instead of starting one. */
  readonly databaseUrl?: string;
  /** Use this Redis instead of starting one. */
  readonly redisUrl?: string;
  /** HAProxy sends the PROXY protocol v2 header and the nodes run with --proxy-protocol on (then the node
   * ports accept only connections from the balancer). Default off: X-Forwarded-For from a trusted proxy. */
  readonly proxyProtocol?: boolean;
  /** More server flags for every node, e.g. ["--heartbeat-interval-ms", "250"]. */
  readonly nodeArgs?: ReadonlyArray<string>;
  /** Node flags to prepend (e.g. --cpu-prof). */
  readonly nodeFlags?: ReadonlyArray<string>;
  /** Where each node's log lines go: "inherit" prints them prefixed with the node's name, a directory writes
   * <dir>/<name>.log, "ignore" drops them. Default "inherit". */
  readonly logs?: "inherit" | "ignore" | { dir: string };
  /** One node on SQLite without PostgreSQL and Redis (what a checkout without the cluster flags can run). */
  readonly embedded?: boolean;
}

export interface ClusterNode {
  readonly name: string;
  readonly port: number;
  /** http://127.0.0.1:port */
  readonly url: string;
  /** ws://127.0.0.1:port/ws */
  readonly wsUrl: string;
  /** The running process's pid, or undefined while it is stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Sends `signal` and waits for the exit; resolves with the exit code (null when killed by a signal).
   * After SIGTERM, SIGKILL follows if the node has not exited within `graceMs` (default 15 s). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** Starts the node again on the same port and waits until it is ready. */
  start(): Promise<void>;
}

export interface Cluster {
  /** The balancer: http://127.0.0.1:port */
  readonly url: string;
  /** ws://127.0.0.1:port/ws through the balancer */
  readonly wsUrl: string;
  readonly nodes: ReadonlyArray<ClusterNode>;
  /** The throwaway PostgreSQL and Redis, when this cluster started them (undefined for existing ones). */
  readonly postgres: Postgres | undefined;
  readonly redis: Redis | undefined;
  readonly haproxy: Haproxy;
  readonly databaseUrl: string | undefined;
  readonly redisUrl: string | undefined;
  /** The health path HAProxy checks: /readyz when the server has it, else /healthz. */
  readonly healthPath: string;
  /** SIGTERMs every node, then stops the balancer and the services it started and removes their data.
   * Resolves with each node's last exit code. */
  stop(): Promise<Array<number | null>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls GET url until it answers 200, or throws after timeoutMs (or at once when `gone()` says the process died). */
const waitHealthy = async (url: string, gone: () => string | undefined, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const why = gone();
    if (why) throw new Error(why);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} not healthy after ${timeoutMs} ms`);
    await sleep(100);
  }
};

/** Hides the password of a postgres:// or redis:// URL for printing. */
export const redactUrl = (url: string): string => {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable URL)";
  }
};

interface NodeSpec {
  readonly name: string;
  readonly port: number;
  readonly argv: ReadonlyArray<string>;
  readonly logs: ClusterOptions["logs"];
}

const makeNode = (
  spec: NodeSpec,
  healthPath: () => string,
): ClusterNode & { ready(path: string): Promise<void>; launch(): void; closeLog(): void } => {
  let child: ChildProcess | undefined;
  let exit: Promise<number | null> | undefined;
  let exitCode: number | null | undefined;
  let file: WriteStream | undefined;
  const url = `http://127.0.0.1:${spec.port}`;

  const launch = () => {
    exitCode = undefined;
    const c = spawn(spec.argv[0]!, spec.argv.slice(1), { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    // Last resort: a node never outlives the process that started it.
    const killOnExit = () => c.kill("SIGKILL");
    process.on("exit", killOnExit);
    c.once("exit", () => process.off("exit", killOnExit));
    const logs = spec.logs ?? "inherit";
    if (typeof logs === "object") {
      mkdirSync(logs.dir, { recursive: true });
      file ??= createWriteStream(join(logs.dir, `${spec.name}.log`), { flags: "a" });
    }
    for (const stream of [c.stdout, c.stderr]) {
      if (logs === "ignore") {
        stream.resume();
        continue;
      }
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on("line", (line) => {
        if (file) file.write(`${line}\n`);
        else process.stdout.write(`[${spec.name}] ${line}\n`);
      });
    }
    exit = new Promise((resolveExit) =>
      c.once("exit", (code, signal) => {
        exitCode = code ?? null;
        if (child === c) child = undefined;
        if (signal === null && code !== 0 && logs !== "ignore") process.stderr.write(`[${spec.name}] exited with ${code}\n`);
        resolveExit(exitCode);
      }),
    );
  };

  const ready = (path: string) =>
    waitHealthy(`${url}${path}`, () => (exitCode !== undefined ? `${spec.name} exited (${exitCode}) before it was ready` : undefined));

  const node = {
    name: spec.name,
    port: spec.port,
    url,
    wsUrl: `ws://127.0.0.1:${spec.port}/ws`,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined;
    },
    async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000) {
      const c = child;
      if (!c || !exit) return exitCode ?? null;
      c.kill(signal);
      const timer = signal === "SIGKILL" ? undefined : setTimeout(() => c.kill("SIGKILL"), graceMs);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
    async start() {
      if (child) throw new Error(`${spec.name} is already running`);
      launch();
      await ready(healthPath());
    },
    ready,
    launch,
    closeLog() {
      file?.end();
    },
  };
  return node;
};

/**
 * Starts PostgreSQL and Redis (unless URLs are given), `nodes` server processes on free ports, and HAProxy in
 * front; resolves once every node answers its health check and the balancer listens. On failure everything
 * started so far is stopped.
 */
export const startCluster = async (o: ClusterOptions): Promise<Cluster> => {
  if (!Number.isSafeInteger(o.nodes) || o.nodes < 1 || o.nodes > 32) throw new Error(`--nodes must be 1-32, got ${o.nodes}`);
  const features = serverFeatures();
  if (o.embedded) {
    if (o.nodes !== 1) throw new Error("an embedded (SQLite) cluster has exactly one node");
  } else {
    const why = clusterUnsupported(features);
    if (why) throw new Error(`cannot run a cluster: ${why} (the PostgreSQL store and the Redis bus are not in this checkout yet)`);
  }
  if (o.proxyProtocol && !features.proxyProtocol) throw new Error("the server has no --proxy-protocol flag");

  const cleanups: Array<() => Promise<void> | void> = [];
  const nodes: Array<ReturnType<typeof makeNode>> = [];
  const stopAll = async () => {
    await Promise.all(nodes.map((n) => n.stop("SIGTERM")));
    for (const n of nodes) n.closeLog();
    for (const f of cleanups.splice(0).reverse()) await f();
  };
  try {
    let postgres: Postgres | undefined;
    let redis: Redis | undefined;
    let databaseUrl = o.databaseUrl;
    let redisUrl = o.redisUrl;
    if (!o.embedded) {
      if (databaseUrl === undefined) {
        postgres = await startPostgres();
        cleanups.push(() => postgres!.destroy());
        databaseUrl = postgres.url;
      }
      if (redisUrl === undefined) {
        redis = await startRedis();
        cleanups.push(() => redis!.destroy());
        redisUrl = redis.url;
      }
    }
    const dataRoot = mkdtempSync(join(tmpdir(), "protochat-cluster-"));
    cleanups.push(() => rmSync(dataRoot, { recursive: true, force: true }));

    let healthPath = "/healthz";
    for (let k = 1; k <= o.nodes; k++) {
      const name = `node${k}`;
      const port = await freePort();
      const dataDir = join(dataRoot, name);
      mkdirSync(dataDir);
      const argv = [
        process.execPath,
        ...(o.nodeFlags ?? []),
        MAIN,
        "--port",
        String(port),
        "--data-dir",
        dataDir,
        ...(databaseUrl !== undefined ? ["--database-url", databaseUrl] : []),
        ...(redisUrl !== undefined ? ["--redis-url", redisUrl] : []),
        ...(features.nodeId ? ["--node-id", name] : []),
        ...(features.trustedProxies ? ["--trusted-proxies", "127.0.0.1"] : []),
        ...(features.proxyProtocol ? ["--proxy-protocol", o.proxyProtocol ? "on" : "off"] : []),
        ...(o.nodeArgs ?? []),
      ];
      nodes.push(makeNode({ name, port, argv, logs: o.logs }, () => healthPath));
    }
    // Nodes start one after another: two nodes applying the schema migrations at once must work, but a
    // cluster that starts up in order is easier to read in the logs.
    for (const n of nodes) {
      n.launch();
      await n.ready("/healthz");
    }
    // /readyz (storage reachable) when the server has it: a node that cannot store messages leaves the pool.
    const probe = await fetch(`${nodes[0]!.url}/readyz`).catch(() => undefined);
    await probe?.body?.cancel();
    if (probe !== undefined && probe.status !== 404) healthPath = "/readyz";
    const haproxy = await startHaproxy({
      backends: nodes.map((n) => ({ name: n.name, port: n.port })),
      ...(o.port !== undefined ? { port: o.port } : {}),
      sendProxy: o.proxyProtocol ?? false,
      healthPath,
    });
    cleanups.push(() => haproxy.destroy());
    // HAProxy starts with every server up (no check has run yet); one round of checks settles that.
    await waitHealthy(`${haproxy.url}/healthz`, () => undefined, 10_000);
    let stopped: Promise<Array<number | null>> | undefined;
    return {
      url: haproxy.url,
      wsUrl: `ws://127.0.0.1:${haproxy.port}/ws`,
      nodes,
      postgres,
      redis,
      haproxy,
      databaseUrl,
      redisUrl,
      healthPath,
      stop: () =>
        (stopped ??= (async () => {
          const codes = await Promise.all(nodes.map((n) => n.stop("SIGTERM")));
          await stopAll();
          return codes;
        })()),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
};

const USAGE = `Usage: npm run cluster -- [--nodes N] [--port P] [options] [-- <server flags for every node>]

Starts a throwaway PostgreSQL and Redis, N chat nodes (node server/src/main.ts) on free loopback ports, and
HAProxy in front on port P (round-robin, no sticky sessions, health checks on /readyz or /healthz). Prints
the balancer's URL and each node's; Ctrl-C (SIGINT) or SIGTERM stops everything and removes the temp data.

  --nodes N              number of nodes (default 2)
  --port P               the balancer's port (default 8080; 0 = any free port)
  --database-url URL     use this PostgreSQL (postgres://...) instead of starting one
  --redis-url URL        use this Redis (redis://...) instead of starting one
  --proxy-protocol on|off  HAProxy passes the client address with the PROXY protocol v2 (on; the node ports
                         then accept only the balancer) or X-Forwarded-For (off, default)
  --logs DIR             write each node's log to DIR/nodeK.log instead of printing it prefixed with [nodeK]
  --help                 this text

Each node runs with --database-url, --redis-url, --node-id nodeK and --trusted-proxies 127.0.0.1, plus the
flags after "--", e.g.  npm run cluster -- --nodes 3 -- --log-level warn --rooms general,random
`;

const main = async (): Promise<number> => {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        nodes: { type: "string", default: "2" },
        port: { type: "string", default: "8080" },
        "database-url": { type: "string" },
        "redis-url": { type: "string" },
        "proxy-protocol": { type: "string", default: "off" },
        logs: { type: "string" },
        help: { type: "boolean" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    process.stderr.write(`cluster: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const nodes = Number(values.nodes);
  const port = Number(values.port);
  if (!Number.isSafeInteger(nodes) || nodes < 1 || nodes > 32) return fail(`--nodes must be an integer 1-32, got "${values.nodes}"`);
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) return fail(`--port must be 0-65535, got "${values.port}"`);
  if (values["proxy-protocol"] !== "on" && values["proxy-protocol"] !== "off") return fail(`--proxy-protocol must be on or off`);
  for (const [flag, scheme] of [
    ["database-url", /^postgres(ql)?:\/\//],
    ["redis-url", /^rediss?:\/\//],
  ] as const) {
    const v = values[flag];
    if (v !== undefined && !scheme.test(v))
      return fail(`--${flag} must start with ${flag === "database-url" ? "postgres://" : "redis://"}`);
  }

  const cluster = await startCluster({
    nodes,
    port: port === 0 ? await freePort() : port,
    ...(values["database-url"] !== undefined ? { databaseUrl: values["database-url"] } : {}),
    ...(values["redis-url"] !== undefined ? { redisUrl: values["redis-url"] } : {}),
    proxyProtocol: values["proxy-protocol"] === "on",
    nodeArgs: positionals,
    logs: values.logs !== undefined ? { dir: resolve(values.logs) } : "inherit",
  }).catch((e: Error) => e);
  if (cluster instanceof Error) return fail(cluster.message);

  const out = [
    `cluster: ${cluster.url}  (WebSocket ${cluster.wsUrl})`,
    ...cluster.nodes.map((n) => `  ${n.name} ${n.wsUrl} pid ${n.pid}`),
    `  postgres ${redactUrl(cluster.databaseUrl ?? "")}${cluster.postgres ? " (throwaway)" : ""}`,
    `  redis ${cluster.redisUrl ?? ""}${cluster.redis ? " (throwaway)" : ""}`,
    `health checks: ${cluster.healthPath}; Ctrl-C stops everything`,
  ];
  process.stdout.write(`${out.join("\n")}\n`);

  const signalled = new Promise<NodeJS.Signals>((r) => {
    process.once("SIGINT", () => r("SIGINT"));
    process.once("SIGTERM", () => r("SIGTERM"));
  });
  // A node that dies by itself is reported; the others keep running (that is what a cluster is for).
  const signal = await signalled;
  process.stdout.write(`cluster: ${signal}, stopping\n`);
  const codes = await cluster.stop();
  const bad = codes.map((c, i) => [cluster.nodes[i]!.name, c] as const).filter(([, c]) => c !== 0);
  for (const [name, c] of bad) process.stderr.write(`cluster: ${name} exited with ${c}\n`);
  process.stdout.write(`cluster: stopped\n`);
  return bad.length === 0 ? 0 : 1;
};

const fail = (message: string): number => {
  process.stderr.write(`cluster: ${message}\n`);
  return 2;
};

if (import.meta.main) process.exitCode = await main();

/** The pid of the process listening on 127.0.0.1:port (from /proc/net/tcp and each process's fds), if any. */
export const pidListeningOn = (port: number): number | undefined => {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] ("0100007F:1F90"), st is f[3] ("0A" = LISTEN), inode is f[9].
      if (f.length > 9 && f[3] === "0A" && f[1]!.endsWith(`:${hexPort}`)) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${entry}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(entry);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
};

/** The cluster's processes by role (PostgreSQL's is the postmaster; its backends are its children). */
export const clusterPids = (
  c: Cluster,
): { nodes: number[]; redis: number | undefined; postgres: number | undefined; haproxy: number | undefined } => ({
  nodes: c.nodes.map((n) => n.pid).filter((p): p is number => p !== undefined),
  redis: c.redis ? pidListeningOn(c.redis.port) : undefined,
  postgres: c.postgres ? pidListeningOn(c.postgres.port) : undefined,
  haproxy: pidListeningOn(c.haproxy.port),
});
