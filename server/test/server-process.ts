// The server as a real child process (server/src/main.ts on Node 24) for restart, SIGKILL and disk-full tests:
// started on port 0 with a given data dir, ready once its "listening" log line names the port.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const mainTs = join(repoRoot, "server/src/main.ts");

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** stdout lines (JSON log records) so far. */
  readonly logs: string[];
}

const children = new Set<ChildProcess>();

/** SIGKILLs every child still running: call from afterAll. */
export const killAll = () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
};

/** Generous limits so tests measure what they mean to, not the throttles. */
const testFlags = ["--register-per-ip-per-min", "1000", "--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000"];

const spawnMain = (dataDir: string, extra: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, [mainTs, "--port", "0", "--data-dir", dataDir, ...testFlags, ...extra], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => done({ code, signal })),
  );
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, exited, stderr: () => stderr };
};

/** Starts main.ts on port 0 and resolves once its "listening" log line names the port. */
export const spawnServer = (dataDir: string, extra: ReadonlyArray<string> = []): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const { child, exited, stderr } = spawnMain(dataDir, extra);
    const logs: string[] = [];
    let buffered = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr()}`)), 15_000);
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        const record = JSON.parse(line) as { msg?: string; port?: number };
        if (record.msg === "listening" && typeof record.port === "number") {
          clearTimeout(timer);
          const base = `127.0.0.1:${record.port}`;
          resolve({ child, port: record.port, wsUrl: `ws://${base}/ws`, httpUrl: `http://${base}`, exited, logs });
        }
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited early (${code ?? signal}): ${stderr()}`));
    });
  });

/** Starts main.ts expecting it NOT to start: resolves with its exit status, stderr and how long it took. */
export const spawnFailingServer = async (dataDir: string, extra: ReadonlyArray<string> = []) => {
  const started = Date.now();
  const { child, exited, stderr } = spawnMain(dataDir, extra);
  let listening = false;
  child.stdout.on("data", (chunk: Buffer) => {
    if (chunk.toString().includes('"listening"')) {
      listening = true;
      child.kill("SIGKILL");
    }
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const exit = await exited;
  clearTimeout(timer);
  return { ...exit, listening, stderr: stderr(), elapsedMs: Date.now() - started };
};
