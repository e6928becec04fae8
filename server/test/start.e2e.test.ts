// The start path a supervisor uses: `npm start` as the README documents it. SIGTERM sent to exactly that
// process (npm's pid, as systemd or a container runtime would) must reach the server: clients get 1001 and
// the process exits 0 instead of being SIGKILLed after the supervisor's timeout.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { registered } from "./wire-client.ts";

const repoRoot = new URL("../../", import.meta.url).pathname;

it("SIGTERM to the `npm start` process drains clients with 1001 and exits 0", { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "protochat-start-"));
  const child = spawn("npm", ["start", "--", "--port", "0", "--data-dir", dataDir, "--log-level", "info"], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, so the cleanup below also reaches a server orphaned by a broken start script.
    detached: true,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  try {
    let out = "";
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "listening" line in 45 s:\n${out}`)), 45_000);
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8");
        const match = /"msg":"listening".*?"port":(\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      child.once("exit", () => reject(new Error(`npm start exited early:\n${out}`)));
    });
    const { client } = await registered(`ws://127.0.0.1:${port}/ws`);
    child.kill("SIGTERM");
    expect(await client.waitClose(10_000)).toBe(1001);
    const result = await Promise.race([exited, new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000))]);
    expect(result).toEqual({ code: 0, signal: null });
  } finally {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      // the group is gone already
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});
