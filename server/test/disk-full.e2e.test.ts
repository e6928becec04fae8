// Fault matrix item 6: the server process with its data dir on a real small tmpfs that fills up. Writes answer
// UNAVAILABLE and are never acked, nothing half-done shows up (no room_joined, no AuthOk, no phantom room or
// user after a restart), /readyz says why, sends work again once space frees, and a start on a full disk exits
// 75 with one line.
import { afterAll, describe, expect, it } from "vitest";
import type { ServerFrame } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { HistoryDirection } from "../../proto/gen/es/chat/v1/message_pb.js";
import { eventually, sleep } from "./helpers.ts";
import { killAll, spawnFailingServer, spawnServer } from "./server-process.ts";
import { mountSmallDisk, smallDiskProblem } from "./small-disk.ts";
import { registered, uniqueName, WireClient } from "./wire-client.ts";

afterAll(killAll);

const DISK_KIB = 4096;
const SENDS = 50;

const probe = async (httpUrl: string, path: string) => {
  const res = await fetch(`${httpUrl}${path}`);
  return { status: res.status, body: (await res.json()) as { status: string; reason?: string; since?: string; connections?: number } };
};

/** An UNAVAILABLE reply with a retry delay, or the test fails with what came instead. */
const expectUnavailable = (reply: ServerFrame, what: string) => {
  expect(reply.kind.case, `${what}: ${JSON.stringify(reply.kind.value)}`).toBe("error");
  if (reply.kind.case !== "error") return;
  expect(reply.kind.value.code, what).toBe(ErrorCode.UNAVAILABLE);
  expect(reply.kind.value.retryAfterMs, what).toBeGreaterThan(0);
};

const fullHistory = async (client: WireClient, roomCode: string) => {
  const stored: Array<{ seq: bigint; id: string }> = [];
  for (let anchor = 0n, more = true; more;) {
    const page = await client.call(
      { case: "history", value: { roomCode, anchorSeq: anchor, direction: HistoryDirection.FORWARD, limit: 200 } },
      "historyPage",
    );
    stored.push(...page.messages.map((m) => ({ seq: m.seq, id: m.clientMessageId })));
    more = page.hasMore;
    anchor = page.messages.at(-1)?.seq ?? anchor;
  }
  return stored;
};

describe.skipIf(smallDiskProblem !== undefined)("disk full (data dir on a small tmpfs)", () => {
  it("refuses writes with UNAVAILABLE and acks nothing unstored; /readyz 503; recovers once space frees; no phantoms after a restart; exits 75 at a start on a full disk", async () => {
    const disk = mountSmallDisk(DISK_KIB);
    try {
      const first = await spawnServer(disk.dir);
      const ann = await registered(first.wsUrl);
      const bob = await registered(first.wsUrl);
      const room = (await ann.client.call({ case: "createRoom", value: { name: "disk test", persistent: true } }, "roomJoined")).room!;
      await bob.client.call({ case: "joinRoom", value: { code: room.code } }, "roomJoined");
      const acked = new Map<string, bigint>();
      for (let i = 0; i < 5; i++) {
        const ack = await ann.client.call(
          { case: "sendMessage", value: { roomCode: room.code, clientMessageId: `before-${i}`, text: `before ${i}` } },
          "sendAck",
        );
        acked.set(`before-${i}`, ack.seq);
      }
      expect((await probe(first.httpUrl, "/readyz")).status).toBe(200);

      // Under load, the disk fills mid-stream: 8 sends in flight; the filler takes the last byte after 100 acks;
      // the stream goes on until 40 sends were refused. Every reply is an ack (then it is stored) or UNAVAILABLE.
      const refused: string[] = [];
      let loadAttempted = 0;
      let loadAcked = 0;
      let filled = false;
      const stream = async (lane: number) => {
        for (let n = 0; refused.length < 40; n++) {
          const id = `load-${lane}-${n}`;
          loadAttempted++;
          const reply = await ann.client.request(
            { case: "sendMessage", value: { roomCode: room.code, clientMessageId: id, text: `during ${id}` } },
            15_000,
          );
          if (reply.kind.case === "sendAck") {
            acked.set(id, reply.kind.value.seq);
            if (++loadAcked >= 100 && !filled) {
              filled = true;
              disk.fill();
            }
          } else {
            expectUnavailable(reply, `send ${id}`);
            refused.push(id);
          }
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, lane) => stream(lane)));
      expect(disk.freeBytes()).toBe(0);

      // Fifty sends at once (they share group commits): each is acked only if stored, otherwise UNAVAILABLE.
      const ids = Array.from({ length: SENDS }, (_, i) => `full-${i}`);
      const replies = await Promise.all(
        ids.map((id) =>
          ann.client.request({ case: "sendMessage", value: { roomCode: room.code, clientMessageId: id, text: `during ${id}` } }, 15_000),
        ),
      );
      let unavailable = 0;
      replies.forEach((reply, i) => {
        if (reply.kind.case === "sendAck") acked.set(ids[i]!, reply.kind.value.seq);
        else {
          expectUnavailable(reply, `send ${ids[i]}`);
          unavailable++;
        }
      });
      const ackedWhileFull = SENDS - unavailable;

      // Every other write: refused, with nothing sent that claims it happened.
      expectUnavailable(await ann.client.request({ case: "createRoom", value: { name: "phantom room", persistent: true } }), "create_room");
      expectUnavailable(
        await ann.client.request({ case: "sendDirect", value: { recipient: bob.username, clientMessageId: "dm-1", text: "hello" } }),
        "send_direct",
      );
      const ghostName = uniqueName("ghost");
      const ghost = await WireClient.open(first.wsUrl);
      expectUnavailable(
        await ghost.request({ case: "register", value: { username: ghostName, password: "correct horse battery" } }),
        "register",
      );
      const annAgain = await WireClient.open(first.wsUrl);
      expectUnavailable(await annAgain.request({ case: "login", value: { username: ann.username, password: ann.password } }), "login");
      await sleep(100);
      expect(ann.client.frames.filter((f) => f.kind.case === "roomJoined")).toEqual([]);
      expect([...ghost.frames, ...annAgain.frames].filter((f) => f.kind.case === "authOk")).toEqual([]);
      // The connections stay usable: the same register is answered again, still UNAVAILABLE.
      expectUnavailable(
        await ghost.request({ case: "register", value: { username: ghostName, password: "correct horse battery" } }),
        "register again",
      );

      // Health: not ready, with the reason; alive; /healthz (compatible) says the same with the connection count.
      const ready = await probe(first.httpUrl, "/readyz");
      expect(ready.status).toBe(503);
      expect(ready.body.status).toBe("storage-unavailable");
      expect(ready.body.reason).toMatch(/SQLITE_FULL|SQLITE_IOERR/);
      const healthz = await probe(first.httpUrl, "/healthz");
      expect([healthz.status, healthz.body.status, typeof healthz.body.connections]).toEqual([503, "storage-unavailable", "number"]);
      expect((await probe(first.httpUrl, "/livez")).status).toBe(200);

      // Reads still work and show exactly what was acked, gap-free; bob was pushed exactly the acked messages.
      const ackedInSeqOrder = () => [...acked].sort(([, a], [, b]) => (a < b ? -1 : 1)).map(([id]) => id);
      const whileFull = await fullHistory(ann.client, room.code);
      expect(whileFull.map((m) => m.id)).toEqual(ackedInSeqOrder());
      expect(whileFull.map((m) => m.seq)).toEqual(whileFull.map((_, i) => BigInt(i + 1)));
      await sleep(100);
      const pushed = bob.client.frames.flatMap((f) => (f.kind.case === "message" ? [f.kind.value.clientMessageId] : []));
      expect(pushed).toEqual(ackedInSeqOrder());
      expect(first.child.exitCode).toBeNull();

      // Space frees: ready again by itself, and the refused sends, retried with the same ids, are stored once.
      disk.free();
      const freedAt = Date.now();
      await eventually(async () => (await probe(first.httpUrl, "/readyz")).status === 200, 5000, "/readyz 200 after space freed");
      const readyAfterMs = Date.now() - freedAt;
      // A refused send was not stored: its retry is a first store (duplicate = false), never a duplicate.
      let duplicates = 0;
      const retried = [...refused, ...ids.filter((id) => !acked.has(id))];
      for (const id of retried) {
        const ack = await ann.client.call(
          { case: "sendMessage", value: { roomCode: room.code, clientMessageId: id, text: `during ${id}` } },
          "sendAck",
          10_000,
        );
        if (ack.duplicate) duplicates++;
        acked.set(id, ack.seq);
      }
      expect(duplicates).toBe(0);
      await ann.client.call(
        { case: "sendDirect", value: { recipient: bob.username, clientMessageId: "dm-1", text: "hello" } },
        "directAck",
      );
      for (const c of [ann.client, bob.client, ghost, annAgain]) c.close();

      // A restart: exactly the acked messages, gap-free; no phantom room, no phantom user.
      first.child.kill("SIGTERM");
      expect((await first.exited).code).toBe(0);
      const second = await spawnServer(disk.dir);
      const reader = await WireClient.open(second.wsUrl, { token: ann.auth.sessionToken });
      await reader.push("authOk");
      await reader.call({ case: "joinRoom", value: { code: room.code } }, "roomJoined");
      const stored = await fullHistory(reader, room.code);
      expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => BigInt(i + 1)));
      const bySeq = new Map(stored.map((m) => [m.seq, m.id]));
      const lost = [...acked].filter(([id, seq]) => bySeq.get(seq) !== id);
      expect(lost).toEqual([]);
      expect(stored.length).toBe(acked.size);
      const listed = await reader.call({ case: "listRooms", value: {} }, "roomList");
      expect(listed.rooms.map((r) => r.room!.name)).not.toContain("phantom room");
      const ghostLogin = await (
        await WireClient.open(second.wsUrl)
      ).request({ case: "login", value: { username: ghostName, password: "correct horse battery" } });
      expect(ghostLogin.kind.case === "error" && ghostLogin.kind.value.code).toBe(ErrorCode.UNAUTHENTICATED);
      const ghostNow = await registered(second.wsUrl, ghostName);
      ghostNow.client.close();
      reader.close();
      second.child.kill("SIGTERM");
      expect((await second.exited).code).toBe(0);

      // A start on a full disk: no half-started server, exit 75 with one line that says why.
      disk.fill();
      const startOnFull = await spawnFailingServer(disk.dir);
      expect(startOnFull.listening).toBe(false);
      expect(startOnFull.code).toBe(75);
      expect(startOnFull.stderr.trim().split("\n")).toHaveLength(1);
      expect(startOnFull.stderr).toMatch(/^error: storage unavailable, not starting .*(SQLITE_FULL|SQLITE_IOERR).*0 KiB free/);
      disk.free();
      const third = await spawnServer(disk.dir);
      expect((await probe(third.httpUrl, "/readyz")).status).toBe(200);
      third.child.kill("SIGTERM");
      await third.exited;

      console.log(
        `disk full (${DISK_KIB} KiB tmpfs): filled under load after 100 acks: sends attempted ${loadAttempted}, acked ${loadAcked}, UNAVAILABLE ${refused.length}; ` +
          `then ${SENDS} at once on the full disk: acked ${ackedWhileFull}, UNAVAILABLE ${unavailable}; ` +
          `create_room/send_direct/register/login UNAVAILABLE, no room_joined/AuthOk; /readyz 503 "${ready.body.reason}"; ` +
          `ready again ${readyAfterMs} ms after space freed; the ${retried.length} refused, retried with the same ids: acked ${retried.length}, duplicates ${duplicates}; ` +
          `after restart: acked ${acked.size}, stored ${stored.length}, lost ${lost.length}, phantom rooms 0, phantom users 0; ` +
          `start on a full disk: exit ${startOnFull.code} in ${startOnFull.elapsedMs} ms: ${startOnFull.stderr.trim()}`,
      );
    } finally {
      killAll();
      await sleep(100);
      disk.unmount();
    }
  }, 90_000);
});
