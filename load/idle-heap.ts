// Memory per idle authenticated connection, measured without GC noise: the chat server runs with
// load/heap-probe.ts preloaded, and after each step of connections (session token at the upgrade, a Ping
// every announced interval) it is made to collect garbage and report its heap and RSS. Prints the
// least-squares slope per connection. Usage: node load/idle-heap.ts [steps=4] [per-step=1000]
// (PROBE_SNAPSHOT=1 also writes a heap snapshot per step, for a diff by constructor).
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ChatConn } from "./src/chat-conn.ts";
import { pool, sleep } from "./src/proc.ts";
import { fitLine } from "./src/samples.ts";
import { chatServerArgv, repoRoot, startProcess } from "./src/server-process.ts";

const steps = Number(process.argv[2] ?? 4);
const perStep = Number(process.argv[3] ?? 1000);
const out = `/tmp/protochat-heap-probe-${process.pid}.json`;
const server = await startProcess({
  argv: chatServerArgv([], ["--expose-gc", "--import", join(repoRoot, "load/heap-probe.ts")]),
  cpus: "0",
  fileLimit: 65_536,
  healthPath: "/healthz",
  wsPath: "/ws",
  logFile: join(repoRoot, "artifacts/idle-heap-server.log"),
  env: { PROBE_OUT: out, ...(process.env.PROBE_SNAPSHOT ? { PROBE_SNAPSHOT: "1" } : {}) },
});

interface Sample {
  readonly n: number;
  readonly heapUsed: number;
  readonly rss: number;
  readonly snap?: string;
}
const probe = async (n: number): Promise<Sample> => {
  rmSync(out, { force: true });
  process.kill(server.pid, "SIGUSR2");
  for (let i = 0; i < 600 && !existsSync(out); i++) await sleep(100);
  await sleep(200);
  return { n, ...JSON.parse(readFileSync(out, "utf8")) };
};

const conns: ChatConn[] = [];
try {
  const tokens = await pool(
    Array.from({ length: 10 }, (_, i) => i),
    4,
    async (i) => {
      const c = await ChatConn.open(server.wsUrl);
      const ok = await c.call(
        { case: "register", value: { username: `ih-${process.pid}-${i}`, password: "load-test-password" } },
        "authOk",
      );
      c.close();
      return ok.sessionToken;
    },
  );
  await sleep(1000);
  const samples = [await probe(0)];
  for (let s = 0; s < steps; s++) {
    const opened = await pool(
      Array.from({ length: perStep }, (_, i) => i),
      100,
      async (i) => {
        const c = await ChatConn.open(server.wsUrl, { token: tokens[i % tokens.length]! });
        const auth = await c.authPush!;
        c.startHeartbeat(auth.heartbeatIntervalMs);
        return c;
      },
    );
    conns.push(...opened);
    await sleep(2000);
    samples.push(await probe(conns.length));
  }
  for (const s of samples) {
    console.log(
      `${s.n}\theap ${(s.heapUsed / 2 ** 20).toFixed(1)} MiB\trss ${(s.rss / 2 ** 20).toFixed(1)} MiB${s.snap ? `\t${s.snap}` : ""}`,
    );
  }
  const heap = fitLine(samples.map((s) => [s.n, s.heapUsed] as const)).slope;
  const rss = fitLine(samples.map((s) => [s.n, s.rss] as const)).slope;
  const open = conns.filter((c) => c.ws.readyState === c.ws.OPEN).length;
  console.log(`per connection: JS heap ${heap.toFixed(0)} B, RSS ${rss.toFixed(0)} B (after full GC); ${open}/${conns.length} open`);
} finally {
  for (const c of conns) c.close();
  await sleep(300);
  await server.stop();
}
