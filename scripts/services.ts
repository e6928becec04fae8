// Throwaway PostgreSQL, Redis and HAProxy instances on loopback ports, for the tests, the benchmark and
// `npm run cluster`. Each lives in its own temp dir, is stopped by `destroy()` (and, as a last resort, when this
// process exits) and leaves nothing behind. Debian's binaries come from scripts/setup.d/30-services.sh.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A free TCP port on 127.0.0.1 (bound and released: another process may take it in between, rarely). */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });

/** Resolves once something accepts TCP connections on host:port, or rejects after `timeoutMs`. */
export const waitForPort = async (port: number, timeoutMs = 15_000, host = "127.0.0.1"): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host }, () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

// Last-resort cleanup: whatever is still running when this process exits is stopped synchronously.
const exitHooks = new Set<() => void>();
let hooked = false;
const onExit = (hook: () => void): (() => void) => {
  exitHooks.add(hook);
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const h of exitHooks) {
        try {
          h();
        } catch {
          // best effort
        }
      }
    });
  }
  return () => exitHooks.delete(hook);
};

const isRoot = () => process.getuid?.() === 0;

/** Runs a PostgreSQL binary as the `postgres` user when we are root (PostgreSQL refuses to run as root). */
const pgCommand = (bin: string, args: string[]): [string, string[]] =>
  isRoot() ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];

const pgBinDir = (): string => {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(join(base, v, "bin", "initdb"))) : [];
  if (versions.length === 0) throw new Error("PostgreSQL is not installed: run scripts/setup.d/30-services.sh");
  versions.sort((a, b) => Number(b) - Number(a));
  return join(base, versions[0]!, "bin");
};

const run = (cmd: [string, string[]], what: string) => {
  const r = spawnSync(cmd[0], cmd[1], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr || r.stdout}`);
};

export interface Postgres {
  /** postgres://user:password@127.0.0.1:port/protochat */
  readonly url: string;
  readonly port: number;
  /** Stops the server (fast shutdown), keeping its data: a database outage. */
  stop(): void;
  /** Starts it again on the same port with the same data. */
  start(): void;
  /** Stops it (immediate) and removes its data directory. */
  destroy(): void;
}

/** initdb + pg_ctl start in a temp dir on a free loopback port, with a password and a `protochat` database. */
export const startPostgres = async (opts: { port?: number } = {}): Promise<Postgres> => {
  const bin = pgBinDir();
  const dir = mkdtempSync(join(tmpdir(), "protochat-pg-"));
  const data = join(dir, "data");
  const password = randomBytes(12).toString("hex");
  const pwfile = join(dir, "pw");
  writeFileSync(pwfile, password);
  if (isRoot()) {
    chownSync(dir, ...ids("postgres"));
    chownSync(pwfile, ...ids("postgres"));
  }
  run(
    pgCommand(join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      "postgres",
      `--pwfile=${pwfile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C.UTF-8",
      "--no-sync",
    ]),
    "initdb",
  );
  const port = opts.port ?? (await freePort());
  const ctl = (args: string[]) => pgCommand(join(bin, "pg_ctl"), ["-D", data, ...args]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on`;
  const start = () => run(ctl(["-o", options, "-l", join(dir, "server.log"), "-w", "-t", "30", "start"]), "pg_ctl start");
  start();
  run(pgCommand(join(bin, "psql"), ["-h", dir, "-p", String(port), "-U", "postgres", "-qc", "CREATE DATABASE protochat"]), "createdb");
  let alive = true;
  const stopNow = (mode: string) => spawnSync(ctl(["-m", mode, "-w", "stop"])[0], ctl(["-m", mode, "-w", "stop"])[1]);
  const unhook = onExit(() => {
    if (alive) stopNow("immediate");
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/protochat`,
    port,
    stop: () => {
      stopNow("fast");
      alive = false;
    },
    start: () => {
      start();
      alive = true;
    },
    destroy: () => {
      if (alive) stopNow("immediate");
      alive = false;
      rmSync(dir, { recursive: true, force: true });
      unhook();
    },
  };
};

const ids = (user: string): [number, number] => {
  const uid = Number(spawnSync("id", ["-u", user], { encoding: "utf8" }).stdout.trim());
  const gid = Number(spawnSync("id", ["-g", user], { encoding: "utf8" }).stdout.trim());
  return [uid, gid];
};

/** A child process that we started and must stop. */
const supervise = (child: ChildProcess) => {
  const unhook = onExit(() => child.kill("SIGKILL"));
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once("exit", () => resolve());
  });
  const stop = async (signal: NodeJS.Signals = "SIGTERM") => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    unhook();
  };
  return { stop, exited };
};

export interface Redis {
  /** redis://127.0.0.1:port */
  readonly url: string;
  readonly port: number;
  /** SIGKILLs the server (its data is in memory only: a restart starts empty). */
  kill(): Promise<void>;
  /** Starts a new, empty server on the same port. */
  start(): Promise<void>;
  destroy(): Promise<void>;
}

/** redis-server without persistence on a free loopback port. */
export const startRedis = async (opts: { port?: number } = {}): Promise<Redis> => {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "protochat-redis-"));
  let current: ReturnType<typeof supervise> | undefined;
  const start = async () => {
    const child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--daemonize",
        "no",
        "--loglevel",
        "warning",
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    current = supervise(child);
    await waitForPort(port);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: async () => {
      await current?.stop("SIGKILL");
      current = undefined;
    },
    start,
    destroy: async () => {
      await current?.stop();
      current = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

export interface Haproxy {
  /** http://127.0.0.1:port (WebSocket: ws://127.0.0.1:port/ws) */
  readonly url: string;
  readonly port: number;
  destroy(): Promise<void>;
}

/**
 * HAProxy in front of HTTP/WebSocket backends: round-robin, no stickiness, health checks on /readyz (falling
 * back to TCP when `healthPath` is empty), and the client's address passed on with the PROXY protocol v2 when
 * `sendProxy` (the nodes must then run with --proxy-protocol) or as X-Forwarded-For otherwise.
 */
export const startHaproxy = async (opts: {
  backends: ReadonlyArray<{ name: string; port: number }>;
  port?: number;
  sendProxy?: boolean;
  healthPath?: string;
}): Promise<Haproxy> => {
  const port = opts.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "protochat-haproxy-"));
  const cfg = join(dir, "haproxy.cfg");
  const servers = opts.backends
    .map(
      (b) =>
        `  server ${b.name} 127.0.0.1:${b.port} check inter 1s fall 2 rise 1${opts.sendProxy ? " send-proxy-v2 check-send-proxy" : ""}`,
    )
    .join("\n");
  // HAProxy needs about two descriptors per connection and refuses to start when maxconn asks for more than
  // the hard open-file limit allows.
  const hardLimit = Number(spawnSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).stdout.trim());
  const maxconn = Number.isFinite(hardLimit) && hardLimit > 0 ? Math.min(100_000, Math.floor((hardLimit - 200) / 2)) : 100_000;
  writeFileSync(
    cfg,
    `global
  maxconn ${maxconn}
defaults
  mode http
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout tunnel 1h
  timeout client-fin 5s
frontend chat
  bind 127.0.0.1:${port}
  default_backend nodes
backend nodes
  balance roundrobin
${opts.sendProxy ? "" : "  option forwardfor\n"}${opts.healthPath === "" ? "" : `  option httpchk GET ${opts.healthPath ?? "/readyz"}\n`}${servers}
`,
  );
  const valid = spawnSync("haproxy", ["-c", "-q", "-f", cfg], { encoding: "utf8" });
  if (valid.status !== 0) throw new Error(`haproxy config: ${valid.stderr || valid.stdout}`);
  const child = spawn("haproxy", ["-f", cfg, "-db"], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr?.on("data", () => {}); // keep the pipe drained; warnings about backends going down are expected
  const proc = supervise(child);
  await waitForPort(port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    destroy: async () => {
      await proc.stop("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
