// The server as a real process: every message acked before a SIGKILL is in history after a restart on the
// same data dir, at its acked seq, with gap-free seqs; unacked sends retried with the same id are stored
// once. And SIGTERM tells connected clients to reconnect (1001) and exits 0.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CloseCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { HistoryDirection } from "../../proto/gen/es/chat/v1/message_pb.js";
import { registered, WireClient } from "./wire-client.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const mainTs = join(repoRoot, "server/src/main.ts");

interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly wsUrl: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly logs: string[];
}

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/** Starts main.ts on port 0 and resolves once its "listening" log line names the port. */
const spawnServer = (dataDir: string, extra: string[] = []): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [mainTs, "--port", "0", "--data-dir", dataDir, "--register-per-ip-per-min", "1000", "--rate-limit-per-sec", "100000", "--rate-limit-burst", "100000", ...extra],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    children.add(child);
    const logs: string[] = [];
    let buffered = "";
    let stderr = "";
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on("exit", (code, signal) => done({ code, signal })));
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 15_000);
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        logs.push(line);
        const record = JSON.parse(line) as { msg?: string; port?: number };
        if (record.msg === "listening" && typeof record.port === "number") {
          clearTimeout(timer);
          resolve({ child, port: record.port, wsUrl: `ws://127.0.0.1:${record.port}/ws`, exited, logs });
        }
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`server exited early (${code ?? signal}): ${stderr}`)));
  });

describe("server process", () => {
  it("every message acked before a SIGKILL is in history after a restart, at its seq, gap-free", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "protochat-sigkill-"));
    try {
      const first = await spawnServer(dataDir);
      const senders = await Promise.all(Array.from({ length: 4 }, () => registered(first.wsUrl)));
      const code = (await senders[0]!.client.call({ case: "createRoom", value: { name: "crash test" } }, "roomJoined")).room!.code;
      for (const s of senders.slice(1)) await s.client.call({ case: "joinRoom", value: { code } }, "roomJoined");

      const acked = new Map<string, bigint>();
      const inFlight = new Set<string>();
      const KILL_AFTER = 400;
      let killed = false;
      // Each sender keeps 8 sends in flight; the process is killed mid-stream, with sends outstanding.
      const pump = async (s: (typeof senders)[number], w: number) => {
        let n = 0;
        const one = async (): Promise<void> => {
          while (!killed) {
            const id = `w${w}-${n++}`;
            inFlight.add(id);
            try {
              const ack = await s.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: id, text: `message ${id}` } }, "sendAck", 5000);
              acked.set(id, ack.seq);
              inFlight.delete(id);
              if (acked.size >= KILL_AFTER && !killed) {
                killed = true;
                first.child.kill("SIGKILL");
              }
            } catch {
              return; // the socket died with the process
            }
          }
        };
        await Promise.all(Array.from({ length: 8 }, one));
      };
      await Promise.all(senders.map(pump));
      const exit = await first.exited;
      expect(exit.signal).toBe("SIGKILL");
      expect(acked.size).toBeGreaterThanOrEqual(KILL_AFTER);

      const second = await spawnServer(dataDir);
      // The session outlived the process: the token still works at the upgrade.
      const reader = await WireClient.open(second.wsUrl, { token: senders[0]!.auth.sessionToken });
      await reader.push("authOk");
      const joined = await reader.call({ case: "joinRoom", value: { code } }, "roomJoined");
      const stored: Array<{ seq: bigint; id: string; text: string }> = [];
      for (let anchor = 0n, more = true; more; ) {
        const page = await reader.call({ case: "history", value: { roomCode: code, anchorSeq: anchor, direction: HistoryDirection.FORWARD, limit: 200 } }, "historyPage");
        stored.push(...page.messages.map((m) => ({ seq: m.seq, id: m.clientMessageId, text: m.text })));
        more = page.hasMore;
        anchor = page.messages.at(-1)?.seq ?? anchor;
      }
      expect(joined.lastSeq).toBe(BigInt(stored.length));
      expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => BigInt(i + 1)));
      const bySeq = new Map(stored.map((m) => [m.seq, m]));
      for (const [id, seq] of acked) {
        expect(bySeq.get(seq)?.id, `acked ${id} at seq ${seq}`).toBe(id);
        expect(bySeq.get(seq)?.text).toBe(`message ${id}`);
      }
      expect(new Set(stored.map((m) => m.id)).size).toBe(stored.length);

      // Sends that had no ack are retried with the same id: stored once whether or not they made it before the kill.
      const storedIds = new Set(stored.map((m) => m.id));
      const retry = await WireClient.open(second.wsUrl, { token: senders[1]!.auth.sessionToken });
      await retry.push("authOk");
      await retry.call({ case: "joinRoom", value: { code } }, "roomJoined");
      const mine = [...inFlight].filter((id) => id.startsWith("w1-"));
      for (const id of mine) {
        const ack = await retry.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: id, text: `message ${id}` } }, "sendAck");
        expect(ack.duplicate, id).toBe(storedIds.has(id));
      }
      const tail = await reader.call({ case: "history", value: { roomCode: code, limit: 200 } }, "historyPage");
      expect(tail.messages.at(-1)?.seq ?? 0n).toBe(BigInt(stored.length + mine.filter((id) => !storedIds.has(id)).length));
      console.log(`SIGKILL: ${acked.size} acked, ${stored.length} stored, ${inFlight.size} unacked in flight (${stored.length - acked.size} of them stored)`);

      retry.close();
      reader.close();
      second.child.kill("SIGKILL");
      await second.exited;
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("SIGTERM closes every client with 1001 promptly and the process exits 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "protochat-sigterm-"));
    try {
      const server = await spawnServer(dataDir, ["--shutdown-grace-ms", "3000"]);
      const a = await registered(server.wsUrl);
      const code = (await a.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
      const b = await registered(server.wsUrl);
      await b.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
      const pending = await WireClient.open(server.wsUrl);
      await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "last", text: "before the restart" } }, "sendAck");

      const started = Date.now();
      server.child.kill("SIGTERM");
      const codes = await Promise.all([a.client.waitClose(), b.client.waitClose(), pending.waitClose()]);
      expect(codes).toEqual([CloseCode.GOING_AWAY, CloseCode.GOING_AWAY, CloseCode.GOING_AWAY]);
      const exit = await server.exited;
      expect(exit).toEqual({ code: 0, signal: null });
      // The clients left at once: nobody waited out the 3 s grace.
      expect(Date.now() - started).toBeLessThan(2500);
      expect(server.logs.some((l) => l.includes('"shutting down"'))).toBe(true);

      // The data is intact for the next start.
      const again = await spawnServer(dataDir);
      const back = await WireClient.open(again.wsUrl, { token: a.auth.sessionToken });
      await back.push("authOk");
      const joined = await back.call({ case: "joinRoom", value: { code } }, "roomJoined");
      expect(joined.lastSeq).toBe(1n);
      back.close();
      again.child.kill("SIGTERM");
      expect((await again.exited).code).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
