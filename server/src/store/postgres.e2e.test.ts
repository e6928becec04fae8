// The whole server on PostgreSQL (`--database-url`), as processes on real sockets: everything survives a
// restart, two nodes share one database and one seq per room, and a database outage is a retryable error.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { freePort, startPostgres, waitForPort, type Postgres } from "../../../scripts/services.ts";
import { registered, WireClient } from "../../test/wire-client.ts";

const main = fileURLToPath(new URL("../main.ts", import.meta.url));

let pg: Postgres;
let dir: string;
beforeAll(async () => {
  pg = await startPostgres();
  dir = mkdtempSync(join(tmpdir(), "protochat-pg-e2e-"));
}, 60_000);
afterAll(() => {
  pg?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** `node server/src/main.ts --database-url …` on a free port; `stop()` sends SIGTERM and returns the exit code. */
const startNode = async () => {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [main, "--port", String(port), "--data-dir", join(dir, "unused"), "--log-level", "warn", "--shutdown-grace-ms", "300"],
    { env: { ...process.env, DATABASE_URL: pg.url }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await Promise.race([waitForPort(port, 20_000), exited.then((code) => Promise.reject(new Error(`server exited ${code}: ${stderr}`)))]);
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    logs: () => output + stderr,
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
};

describe("the server on PostgreSQL", () => {
  it("keeps accounts, sessions, rooms and history across a restart; two nodes share one seq per room", async () => {
    const first = await startNode();
    const a = await registered(first.url);
    const { room } = await a.client.call({ case: "createRoom", value: { name: "kept", persistent: true } }, "roomJoined");
    const code = room!.code;
    for (const id of ["one", "two"]) {
      await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: id, text: id } }, "sendAck");
    }
    a.client.close();
    expect(await first.stop()).toBe(0);

    // Restarted, and a second node beside it, both started at once on the same database.
    const [one, two] = await Promise.all([startNode(), startNode()]);
    try {
      const resumed = await WireClient.open(one.url, { token: a.auth.sessionToken });
      expect((await resumed.push("authOk")).username).toBe(a.username);
      const joined = await resumed.call({ case: "joinRoom", value: { code } }, "roomJoined");
      expect(joined.lastSeq).toBe(2n);
      const other = await WireClient.open(two.url);
      await other.call({ case: "login", value: { username: a.username, password: a.password } }, "authOk");
      await other.call({ case: "joinRoom", value: { code } }, "roomJoined");
      const three = await other.call(
        { case: "sendMessage", value: { roomCode: code, clientMessageId: "three", text: "three" } },
        "sendAck",
      );
      const four = await resumed.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "four", text: "four" } }, "sendAck");
      expect([three.seq, four.seq]).toEqual([3n, 4n]);
      // PostgreSQL text cannot hold U+0000: a clear INVALID_ARGUMENT, not a failed write.
      const nul = await other.request({ case: "sendMessage", value: { roomCode: code, clientMessageId: "nul", text: "a\u0000b" } });
      expect(nul.kind.case === "error" && nul.kind.value.code).toBe(ErrorCode.INVALID_ARGUMENT);
      const retry = await other.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "one", text: "again" } }, "sendAck");
      expect([retry.seq, retry.duplicate]).toEqual([1n, true]);
      for (const client of [resumed, other]) {
        const page = await client.call({ case: "history", value: { roomCode: code } }, "historyPage");
        expect(page.messages.map((m) => [m.seq, m.text])).toEqual([
          [1n, "one"],
          [2n, "two"],
          [3n, "three"],
          [4n, "four"],
        ]);
      }
      const listed = await other.call({ case: "listRooms", value: {} }, "roomList");
      expect(listed.rooms.map((r) => r.room?.name)).toContain("kept");
      for (const client of [resumed, other]) client.close();
      // Nothing went to the SQLite data dir.
      expect(existsSync(join(dir, "unused"))).toBe(false);
    } finally {
      expect(await one.stop()).toBe(0);
      expect(await two.stop()).toBe(0);
    }
  }, 60_000);

  it("while PostgreSQL is down a send gets UNAVAILABLE with a retry delay; the same send succeeds once it is back", async () => {
    const node = await startNode();
    try {
      const a = await registered(node.url);
      const { room } = await a.client.call({ case: "createRoom", value: { name: "outage" } }, "roomJoined");
      const code = room!.code;
      await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "before", text: "before" } }, "sendAck");
      pg.stop();
      const started = Date.now();
      const reply = await a.client.request({ case: "sendMessage", value: { roomCode: code, clientMessageId: "during", text: "during" } });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(reply.kind.case).toBe("error");
      if (reply.kind.case === "error") {
        expect(reply.kind.value.code).toBe(ErrorCode.UNAVAILABLE);
        expect(reply.kind.value.retryAfterMs).toBeGreaterThan(0);
      }
      // The node reports itself not ready while it cannot store, with the reason.
      const readyz = await fetch(node.url.replace("ws://", "http://").replace("/ws", "/readyz"));
      expect(readyz.status).toBe(503);
      expect(((await readyz.json()) as { status: string }).status).toBe("storage-unavailable");
      // A reconnect with the token at the upgrade is told to come back (503), not that the session is gone (401).
      await expect(WireClient.open(node.url, { token: a.auth.sessionToken })).rejects.toThrow("HTTP 503");
      pg.start();
      const again = await WireClient.open(node.url, { token: a.auth.sessionToken });
      expect((await again.push("authOk")).username).toBe(a.username);
      again.close();
      // Ready again by itself (the failed upgrade's check or the probe noticed the database is back).
      const deadline = Date.now() + 5_000;
      let ready = 0;
      while (
        Date.now() < deadline &&
        (ready = (await fetch(node.url.replace("ws://", "http://").replace("/ws", "/readyz"))).status) !== 200
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready).toBe(200);
      const ack = await a.client.call(
        { case: "sendMessage", value: { roomCode: code, clientMessageId: "during", text: "during" } },
        "sendAck",
      );
      expect([ack.seq, ack.duplicate]).toEqual([2n, false]);
      const page = await a.client.call({ case: "history", value: { roomCode: code } }, "historyPage");
      expect(page.messages.map((m) => m.text)).toEqual(["before", "during"]);
      a.client.close();
      // The log names the failure, never the database password nor the message.
      expect(node.logs()).toContain("store failure");
      expect(node.logs()).not.toContain(new URL(pg.url).password);
      expect(node.logs()).not.toContain("during");
    } finally {
      expect(await node.stop()).toBe(0);
    }
  }, 60_000);
});
