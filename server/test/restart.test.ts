// The server as a real process. Fault matrix item 5: SIGKILLed under load five times at different moments on
// one data dir, every message acked before each kill is in history after the restart, at its acked seq, with
// gap-free seqs; unacked sends retried with the same id are stored once; SQLite's integrity check passes after
// every kill. And SIGTERM tells connected clients to reconnect (1001) and exits 0.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterAll, describe, expect, it } from "vitest";
import { CloseCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { HistoryDirection } from "../../proto/gen/es/chat/v1/message_pb.js";
import { killAll, type ServerProcess, spawnServer } from "./server-process.ts";
import { registered, WireClient } from "./wire-client.ts";

afterAll(killAll);

/** Every message of a room, oldest first, read in forward pages. */
const fullHistory = async (client: WireClient, roomCode: string) => {
  const stored: Array<{ seq: bigint; id: string; text: string }> = [];
  for (let anchor = 0n, more = true; more;) {
    const page = await client.call(
      { case: "history", value: { roomCode, anchorSeq: anchor, direction: HistoryDirection.FORWARD, limit: 200 } },
      "historyPage",
    );
    stored.push(...page.messages.map((m) => ({ seq: m.seq, id: m.clientMessageId, text: m.text })));
    more = page.hasMore;
    anchor = page.messages.at(-1)?.seq ?? anchor;
  }
  return stored;
};

/** SQLite's own check of the file a SIGKILLed server left (read-only: the next start does the WAL recovery). */
const integrityCheck = (dataDir: string): string => {
  const db = new DatabaseSync(join(dataDir, "chat.db"), { readOnly: true });
  try {
    return (db.prepare("PRAGMA integrity_check").all() as Array<{ integrity_check: string }>).map((r) => r.integrity_check).join("; ");
  } finally {
    db.close();
  }
};

/** The moments of the five kills: after so many acks in the round, or so many ms after its load began. */
const KILLS: ReadonlyArray<{ readonly label: string; readonly afterAcks?: number; readonly afterMs?: number }> = [
  { label: "early, after 30 acks", afterAcks: 30 },
  { label: "after 400 acks", afterAcks: 400 },
  { label: "60 ms into the load", afterMs: 60 },
  { label: "after 150 acks", afterAcks: 150 },
  { label: "after 1500 acks", afterAcks: 1500 },
];

describe("server process", () => {
  it("five SIGKILLs under load at different moments: acked lost 0, gap-free, retries stored once, integrity ok each time", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "protochat-sigkill-"));
    try {
      const acked = new Map<string, bigint>();
      let unacked: string[] = [];
      let sessions: Array<{ token: string; index: number }> = [];
      let roomCode = "";
      const figures: string[] = [];

      /** Opens one joined connection per sender (sessions outlive every process: tokens work at the upgrade). */
      const connect = (server: ServerProcess) =>
        Promise.all(
          sessions.map(async ({ token }) => {
            const client = await WireClient.open(server.wsUrl, { token });
            await client.push("authOk");
            const joined = await client.call({ case: "joinRoom", value: { code: roomCode } }, "roomJoined");
            return { client, lastSeq: joined.lastSeq };
          }),
        );

      /** After a restart: every acked message at its seq, gap-free, no id twice; then the unacked retried. */
      const verify = async (senders: ReadonlyArray<{ client: WireClient; lastSeq: bigint }>) => {
        const reader = senders[0]!.client;
        const stored = await fullHistory(reader, roomCode);
        expect(senders[0]!.lastSeq).toBe(BigInt(stored.length));
        expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => BigInt(i + 1)));
        const bySeq = new Map(stored.map((m) => [m.seq, m]));
        const lost = [...acked].filter(([id, seq]) => bySeq.get(seq)?.id !== id || bySeq.get(seq)?.text !== `message ${id}`);
        expect(lost, "acked messages lost").toEqual([]);
        expect(new Set(stored.map((m) => m.id)).size).toBe(stored.length);
        // Sends that had no ack, retried with the same id: stored once whether or not they made it before the kill.
        // Each from its own sender: idempotency is per (room, sender, client message id).
        const storedIds = new Set(stored.map((m) => m.id));
        let next = BigInt(stored.length) + 1n;
        for (const id of unacked) {
          const sender = senders[Number(/-w(\d+)-/.exec(id)![1])]!.client;
          const ack = await sender.call(
            { case: "sendMessage", value: { roomCode, clientMessageId: id, text: `message ${id}` } },
            "sendAck",
          );
          expect(ack.duplicate, id).toBe(storedIds.has(id));
          if (!ack.duplicate) expect(ack.seq, `retried ${id}`).toBe(next++);
          acked.set(id, ack.seq);
        }
        return { stored: stored.length, lost: lost.length, unackedStored: unacked.filter((id) => storedIds.has(id)).length };
      };

      for (let round = 0; round < KILLS.length; round++) {
        const kill = KILLS[round]!;
        const server = await spawnServer(dataDir);
        if (round === 0) {
          const users = await Promise.all(Array.from({ length: 4 }, () => registered(server.wsUrl)));
          roomCode = (await users[0]!.client.call({ case: "createRoom", value: { name: "crash test", persistent: true } }, "roomJoined"))
            .room!.code;
          sessions = users.map((u, index) => ({ token: u.auth.sessionToken, index }));
          for (const u of users) u.client.close();
        }
        const connected = await connect(server);
        if (round > 0) {
          const check = await verify(connected);
          figures[figures.length - 1] +=
            `; restart: stored ${check.stored}, lost ${check.lost}, unacked in flight ${unacked.length} (${check.unackedStored} of them stored)`;
        }
        const senders = connected.map((c) => c.client);
        const inFlight = new Set<string>();
        let roundAcks = 0;
        let killed = false;
        const killNow = () => {
          if (killed) return;
          killed = true;
          server.child.kill("SIGKILL");
        };
        const timer = kill.afterMs === undefined ? undefined : setTimeout(killNow, kill.afterMs);
        // Each sender keeps 8 sends in flight; the process is killed mid-stream, with sends outstanding.
        const pump = async (client: WireClient, w: number) => {
          let n = 0;
          const one = async (): Promise<void> => {
            while (!killed) {
              const id = `r${round}-w${w}-${n++}`;
              inFlight.add(id);
              try {
                const ack = await client.call(
                  { case: "sendMessage", value: { roomCode, clientMessageId: id, text: `message ${id}` } },
                  "sendAck",
                  5000,
                );
                acked.set(id, ack.seq);
                inFlight.delete(id);
                roundAcks++;
                if (kill.afterAcks !== undefined && roundAcks >= kill.afterAcks) killNow();
              } catch {
                return; // the socket died with the process
              }
            }
          };
          await Promise.all(Array.from({ length: 8 }, one));
        };
        const started = Date.now();
        await Promise.all(senders.map(pump));
        clearTimeout(timer);
        expect((await server.exited).signal).toBe("SIGKILL");
        const integrity = integrityCheck(dataDir);
        expect(integrity, `integrity after kill ${round + 1}`).toBe("ok");
        unacked = [...inFlight];
        figures.push(
          `kill ${round + 1} (${kill.label}, at ${Date.now() - started} ms): acked ${roundAcks} this round, ${acked.size} in all; integrity ${integrity}`,
        );
      }

      const last = await spawnServer(dataDir);
      const connected = await connect(last);
      const check = await verify(connected);
      figures[figures.length - 1] +=
        `; restart: stored ${check.stored}, lost ${check.lost}, unacked in flight ${unacked.length} (${check.unackedStored} of them stored)`;
      for (const c of connected) c.client.close();
      last.child.kill("SIGKILL");
      await last.exited;
      expect(acked.size).toBeGreaterThanOrEqual(KILLS.reduce((sum, k) => sum + (k.afterAcks ?? 0), 0));
      console.log(
        `${KILLS.length} SIGKILLs under load, embedded mode:\n  ${figures.join("\n  ")}\n  total: acked ${acked.size}, lost 0, integrity ok ${KILLS.length}/${KILLS.length}`,
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  it("SIGTERM closes every client with 1001 promptly and the process exits 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "protochat-sigterm-"));
    try {
      const server = await spawnServer(dataDir, ["--shutdown-grace-ms", "3000"]);
      const a = await registered(server.wsUrl);
      const code = (await a.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
      const b = await registered(server.wsUrl);
      await b.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
      const pending = await WireClient.open(server.wsUrl);
      await a.client.call(
        { case: "sendMessage", value: { roomCode: code, clientMessageId: "last", text: "before the restart" } },
        "sendAck",
      );

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
