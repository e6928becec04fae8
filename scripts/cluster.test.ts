// The cluster harness: its command line refuses bad input clearly, a node behind HAProxy can be killed and
// restarted on its port, stopping leaves no process or temp dir behind, and `npm run cluster` runs N nodes
// until SIGINT (skipped while the server lacks the cluster flags).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, expect, it } from "vitest";
import { clusterPids, clusterUnsupported, pidListeningOn, redactUrl, repoRoot, startCluster } from "./cluster.ts";

const cli = (args: string[]) => spawnSync(process.execPath, ["scripts/cluster.ts", ...args], { cwd: repoRoot, encoding: "utf8" });

const status = async (url: string): Promise<number | string> => {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status;
  } catch (e) {
    return (e as Error).message;
  }
};

const eventually = async (cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
};

describe("npm run cluster: arguments", () => {
  it("prints its usage with --help", () => {
    const r = cli(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("--nodes N");
    expect(r.stdout).toContain("--database-url URL");
  });

  it.each([
    [["--nodes", "0"], "--nodes must be an integer 1-32"],
    [["--nodes", "two"], "--nodes must be an integer 1-32"],
    [["--port", "70000"], "--port must be 0-65535"],
    [["--proxy-protocol", "yes"], "--proxy-protocol must be on or off"],
    [["--database-url", "mysql://x"], "--database-url must start with postgres://"],
    [["--redis-url", "http://x"], "--redis-url must start with redis://"],
    [["--bogus"], "Unknown option '--bogus'"],
  ])("refuses %j with a clear message and exit 2", (args, message) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it("names what a server without the cluster flags lacks", () => {
    const none = { databaseUrl: false, redisUrl: false, nodeId: false, trustedProxies: false, proxyProtocol: false };
    expect(clusterUnsupported(none)).toBe(
      "the server has no --database-url (PostgreSQL store), --redis-url (Redis bus and presence), --node-id",
    );
    expect(clusterUnsupported({ ...none, databaseUrl: true, redisUrl: true, nodeId: true })).toBeUndefined();
  });

  it("never prints a password", () => {
    expect(redactUrl("postgres://postgres:s3cret@127.0.0.1:5432/protochat")).toBe("postgres://postgres:***@127.0.0.1:5432/protochat");
    expect(redactUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
  });
});

describe("startCluster", () => {
  it("runs a node behind HAProxy; the node can be SIGKILLed and restarted on its port; stop leaves nothing behind", async () => {
    const c = await startCluster({ nodes: 1, embedded: true, logs: "ignore" });
    const node = c.nodes[0]!;
    const pids = clusterPids(c);
    try {
      expect(await status(`${c.url}/healthz`)).toBe(200);
      expect(pids.nodes).toEqual([node.pid]);
      expect(pids.haproxy).toBeDefined();
      expect(readFileSync(`/proc/${pids.haproxy}/cmdline`, "utf8")).toContain("haproxy");
      expect(pidListeningOn(node.port)).toBe(node.pid);

      expect(await node.stop("SIGKILL")).toBeNull();
      expect(node.running).toBe(false);
      // The balancer has no backend left: it answers 503 itself.
      expect(await eventually(async () => (await status(`${c.url}/healthz`)) === 503, 10_000)).toBe(true);

      await node.start();
      expect(node.pid).not.toBe(pids.nodes[0]);
      expect(await eventually(async () => (await status(`${c.url}/healthz`)) === 200, 10_000)).toBe(true);
    } finally {
      expect(await c.stop()).toEqual([0]);
    }
    expect(typeof (await status(`${c.url}/healthz`))).toBe("string"); // nothing listens any more
    expect(typeof (await status(`${node.url}/healthz`))).toBe("string");
    expect(existsSync(`/proc/${pids.haproxy}`)).toBe(false);
  }, 60_000);
});

const unsupported = clusterUnsupported();
describe.skipIf(unsupported !== undefined)(`npm run cluster${unsupported ? ` (skipped: ${unsupported})` : ""}`, () => {
  it("starts two nodes behind the balancer, prints their URLs, and stops everything on SIGINT", async () => {
    const child = spawn(process.execPath, ["scripts/cluster.ts", "--nodes", "2", "--port", "0", "--", "--log-level", "warn"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines: string[] = [];
    const ready = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).on("line", (l) => {
        lines.push(l);
        if (l.startsWith("health checks:")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`cluster exited with ${code}: ${lines.join("\n")}`)));
    });
    try {
      await ready;
      const balancer = /^cluster: (http:\/\/127\.0\.0\.1:\d+)/.exec(lines[0] ?? "")?.[1];
      const nodes = lines.map((l) => /^ {2}node\d+ (ws:\/\/\S+) pid (\d+)$/.exec(l)).filter((m) => m !== null);
      expect(balancer).toBeDefined();
      expect(nodes).toHaveLength(2);
      expect(await status(`${balancer}/healthz`)).toBe(200);
      for (const m of nodes) expect(await status(`${m[1]!.replace("ws:", "http:").replace(/\/ws$/, "")}/healthz`)).toBe(200);
      expect(lines.join("\n")).not.toMatch(/postgres:\/\/[^:]+:(?!\*\*\*)[^@]+@/); // no password printed
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      child.kill("SIGINT");
      expect(await exited).toBe(0);
      for (const m of nodes) expect(existsSync(`/proc/${m[2]}`)).toBe(false);
    } finally {
      child.kill("SIGKILL");
    }
  }, 90_000);
});
