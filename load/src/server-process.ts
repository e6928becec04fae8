// Starting a server as a child process for load runs and benchmarks: a free port, a temp data dir,
// optionally pinned to a CPU (taskset) with a raised open-file limit, ready once /healthz answers.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { sleep } from "./proc.ts";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const freePort = (): Promise<number> =>
  new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const address = s.address();
      const port = typeof address === "object" && address ? address.port : 0;
      s.close(() => resolvePort(port));
    });
  });

/** argv prefix that runs a command with `ulimit -n` raised (when given) and pinned to a CPU list (when given). */
export const wrapCommand = (
  argv: ReadonlyArray<string>,
  options: { cpus?: string | undefined; fileLimit?: number | undefined; realtime?: boolean | undefined },
): string[] => {
  let out = [...argv];
  if (options.cpus !== undefined) out = ["taskset", "-c", options.cpus, ...out];
  // The highest priority (nice -20, root only) keeps other work on a shared machine from stalling a
  // measurement. (Real-time FIFO scheduling does not work for Node: its threads spin-wait for each other on
  // the one pinned CPU.)
  if (options.realtime && process.getuid?.() === 0) out = ["nice", "-n", "-20", ...out];
  if (options.fileLimit !== undefined) {
    // Raise the soft limit as far as asked, or to the hard limit when that is lower.
    const n = options.fileLimit;
    out = ["sh", "-c", `ulimit -n ${n} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, "sh", ...out];
  }
  return out;
};

export interface RunningServer {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  stop(): Promise<number | null>;
}

export interface StartOptions {
  /** The program and its arguments; `{port}` and `{dataDir}` are substituted. */
  readonly argv: ReadonlyArray<string>;
  readonly cpus?: string | undefined;
  readonly fileLimit?: number | undefined;
  readonly realtime?: boolean | undefined;
  /** Path of the health endpoint to poll until it answers 200. */
  readonly healthPath: string;
  readonly wsPath: string;
  readonly logFile: string;
  /** Extra environment; `{port}` and `{dataDir}` are substituted in the values too. */
  readonly env?: Record<string, string>;
  /** Where the temp data dir is made (default the OS temp dir; /dev/shm puts it in memory). */
  readonly dataParent?: string | undefined;
}

export const startProcess = async (o: StartOptions): Promise<RunningServer> => {
  const port = await freePort();
  const dataDir = mkdtempSync(join(o.dataParent ?? tmpdir(), "protochat-load-"));
  const fill = (a: string) => a.replaceAll("{port}", String(port)).replaceAll("{dataDir}", dataDir);
  const substitute = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).map(([k, v]) => [k, fill(v)]));
  const argv = wrapCommand(o.argv.map(fill), { cpus: o.cpus, fileLimit: o.fileLimit, realtime: o.realtime });
  mkdirSync(dirname(o.logFile), { recursive: true });
  const log = createWriteStream(o.logFile);
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...substitute(o.env ?? {}) },
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolveExit) =>
    child.once("exit", (code, signal) => {
      exited = code ?? (signal ? 128 : null);
      resolveExit(exited);
    }),
  );
  const httpUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== undefined) throw new Error(`server exited (${exited}) before it was healthy; see ${o.logFile}`);
    try {
      const res = await fetch(`${httpUrl}${o.healthPath}`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server not healthy after 30 s; see ${o.logFile}`);
    }
    await sleep(100);
  }
  return {
    child,
    pid: child.pid!,
    port,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${port}${o.wsPath}`,
    stop: async () => {
      if (exited === undefined) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
      return exited ?? null;
    },
  };
};

/** Flags that lift the chat server's abuse throttles out of a load test's way (scenario flags override). */
export const loadServerFlags: Record<string, string> = {
  "--register-per-ip-per-min": "1000000",
  "--login-per-ip-per-min": "1000000",
  "--join-failures-per-min": "1000",
  "--max-unauthenticated": "5000",
  // Every generated client comes from one address and network: lift those caps, and hash like libuv's
  // default pool (4 threads) with room for a whole ramp-up waiting.
  "--max-unauthenticated-per-ip": "5000",
  "--register-per-network-per-min": "1000000",
  "--register-per-min": "1000000",
  "--unknown-user-hashes-per-min": "1000000",
  "--hash-concurrency": "4",
  "--hash-queue": "100000",
  "--max-connections": "50000",
  "--max-rooms-per-connection": "1000",
  "--log-level": "warn",
};

/** The chat server's argv: Node 24 (this process's binary) running server/src/main.ts. */
export const chatServerArgv = (flags: ReadonlyArray<string>, nodeFlags: ReadonlyArray<string> = []): string[] => {
  const merged = new Map(Object.entries(loadServerFlags));
  for (let i = 0; i + 1 < flags.length; i += 2) merged.set(flags[i]!, flags[i + 1]!);
  return [process.execPath, ...nodeFlags, "server/src/main.ts", "--port", "{port}", "--data-dir", "{dataDir}", ...[...merged].flat()];
};
