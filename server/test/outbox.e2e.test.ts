// What a client that stops reading costs the server, measured on a real server process (so its RSS is its
// own): it keeps asking for large replies (recover of ~1,000 × 4 KiB messages, or history pages of 200) at
// the default rate limit while its TCP socket is paused. The outbox's byte budget must hold its cost to about
// --outbox-bytes: the large requests are refused (RATE_LIMITED) while earlier replies sit unread.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServerFrame } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode, ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { HistoryDirection } from "../../proto/gen/es/chat/v1/message_pb.js";
import { chatServerArgv, type RunningServer, startProcess } from "../../load/src/server-process.ts";
import { CONGESTED_RETRY_MS } from "../src/session/machine.ts";
import { connectionsSettle, keepAlive, sleep } from "./helpers.ts";
import { type ClientKind, registered, WireClient } from "./wire-client.ts";

const MiB = 1024 * 1024;
/** The server's default --outbox-bytes; the server runs with its defaults apart from lifted login throttles. */
const BUDGET = 8 * MiB;
const MESSAGES = 999;
const TEXT = "x".repeat(4096);
const ATTACK_MS = 6000;
/** The default rate limit: 20 frames/s after a burst of 40. */
const ATTACK_INTERVAL_MS = 50;

/** The server process's resident set, from /proc. */
const rssOf = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"))!;
  return Number(line.split(/\s+/)[1]) * 1024;
};

/** One sample's value from /metrics (0 when absent). */
const metric = async (httpUrl: string, sample: string): Promise<number> => {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
};

let server: RunningServer;
let roomCode: string;
let ownerToken: string;
const clients: WireClient[] = [];
let stopOwnerPings = () => {};

beforeAll(async () => {
  server = await startProcess({
    argv: chatServerArgv([]),
    healthPath: "/healthz",
    wsPath: "/ws",
    logFile: join(mkdtempSync(join(tmpdir(), "protochat-outbox-")), "server.log"),
    dataParent: "/dev/shm",
  });
  const owner = await registered(server.wsUrl);
  clients.push(owner.client);
  // The owner stays connected (and keeps the temporary room alive) through both attacks.
  stopOwnerPings = keepAlive(owner.client, 2000);
  ownerToken = owner.auth.sessionToken;
  roomCode = (await owner.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
  // Seeded through the protocol within the rate limit: 27 connections of the same session each send 37
  // (join + 37 frames stay within the burst of 40).
  const senders = await Promise.all(
    Array.from({ length: 27 }, async () => {
      const c = await WireClient.open(server.wsUrl, { token: ownerToken });
      clients.push(c);
      await c.push("authOk");
      await c.call({ case: "joinRoom", value: { code: roomCode } }, "roomJoined");
      return c;
    }),
  );
  await Promise.all(
    senders.map((c, i) =>
      Promise.all(
        Array.from({ length: MESSAGES / senders.length }, (_, j) =>
          c.call({ case: "sendMessage", value: { roomCode, clientMessageId: `m${i}-${j}`, text: TEXT } }, "sendAck", 20_000),
        ),
      ),
    ),
  );
  for (const c of senders) c.close();
  // Warm up the way a normal client would: one full recovery and one history page read promptly, so the RSS
  // baseline already includes the store's cache and the code paths' first use.
  const reader = await WireClient.open(server.wsUrl, { token: ownerToken });
  clients.push(reader);
  await reader.push("authOk");
  await reader.call({ case: "joinRoom", value: { code: roomCode } }, "roomJoined");
  const recovered = await reader.call({ case: "recover", value: { roomCode, afterSeq: 0n } }, "recoverResult", 10_000);
  expect(recovered.messages.length).toBe(MESSAGES);
  await reader.call({ case: "history", value: { roomCode, limit: 200 } }, "historyPage", 10_000);
  reader.close();
}, 60_000);

afterAll(async () => {
  stopOwnerPings();
  for (const c of clients) c.ws.terminate();
  await server?.stop();
});

interface AttackResult {
  rssGrowth: number;
  executed: number;
  refused: number;
  otherReplies: number;
  pongs: number;
  pings: number;
  closeCode: number | undefined;
  healthyP99: number;
}

/**
 * Joins the room on a fresh connection, pauses its TCP socket and sends `request` at the default rate limit
 * (the burst first) for ATTACK_MS with a Ping every second, while a healthy member pings the server. Then
 * reads everything the server sent it.
 */
const attack = async (request: ClientKind, success: NonNullable<ServerFrame["kind"]["case"]>): Promise<AttackResult> => {
  await connectionsSettle(server.httpUrl, 1);
  const attacker = await WireClient.open(server.wsUrl, { token: ownerToken });
  clients.push(attacker);
  await attacker.push("authOk");
  await attacker.call({ case: "joinRoom", value: { code: roomCode } }, "roomJoined");
  const healthy = await WireClient.open(server.wsUrl, { token: ownerToken });
  clients.push(healthy);
  await healthy.push("authOk");

  const baseline = rssOf(server.pid);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssOf(server.pid))), 50);
  attacker.ws.pause(); // pauses the TCP socket: the server's writes back up in the kernel, then in its outbox
  const requests: number[] = [];
  const pings: number[] = [];
  for (let i = 0; i < 38; i++) requests.push(attacker.send(request));
  const rtts: number[] = [];
  const started = Date.now();
  const pinger = (async () => {
    while (Date.now() - started < ATTACK_MS) {
      const sent = performance.now();
      await healthy.call({ case: "ping", value: {} }, "pong", 10_000);
      rtts.push(performance.now() - sent);
      await sleep(200);
    }
  })();
  let tick = 0;
  while (Date.now() - started < ATTACK_MS) {
    await sleep(ATTACK_INTERVAL_MS);
    if (attacker.ws.readyState !== attacker.ws.OPEN) break;
    if (++tick % 20 === 0) pings.push(attacker.send({ case: "ping", value: { nonce: BigInt(tick) } }));
    else requests.push(attacker.send(request));
  }
  await pinger;
  // Read everything the server queued, then see what it made of the requests.
  attacker.ws.resume();
  const answered = (id: number) => attacker.frames.some((f) => f.id === id);
  const deadline = Date.now() + 15_000;
  while (attacker.closeCode === undefined && ![...requests, ...pings].every(answered) && Date.now() < deadline) await sleep(20);
  await sleep(200);
  clearInterval(sampler);
  peak = Math.max(peak, rssOf(server.pid));

  const replies = attacker.frames.filter((f) => requests.includes(f.id));
  const refused = replies.filter(
    (f) => f.kind.case === "error" && f.kind.value.code === ErrorCode.RATE_LIMITED && f.kind.value.retryAfterMs === CONGESTED_RETRY_MS,
  );
  rtts.sort((a, b) => a - b);
  const result: AttackResult = {
    rssGrowth: peak - baseline,
    executed: replies.filter((f) => f.kind.case === success).length,
    refused: refused.length,
    otherReplies: replies.length - refused.length - replies.filter((f) => f.kind.case === success).length,
    pongs: attacker.frames.filter((f) => pings.includes(f.id) && f.kind.case === "pong").length,
    pings: pings.length,
    closeCode: attacker.closeCode,
    healthyP99: rtts[Math.min(rtts.length - 1, Math.floor(rtts.length * 0.99))] ?? 0,
  };
  console.log(
    `${request.case}: ${requests.length} requests in ${ATTACK_MS / 1000} s from a paused socket -> ${result.executed} executed, ${result.refused} refused, ` +
      `${result.pongs}/${result.pings} pings answered, close ${result.closeCode ?? "none"}; server RSS ${(baseline / MiB).toFixed(0)} MiB -> peak ${(peak / MiB).toFixed(0)} MiB ` +
      `(+${(result.rssGrowth / MiB).toFixed(1)} MiB); a healthy client's ping p99 ${result.healthyP99.toFixed(1)} ms`,
  );
  attacker.close();
  healthy.close();
  return result;
};

/** What every attack must show; `maxExecuted` replies fit in the kernel's socket buffers and the low watermark. */
const expectBounded = async (r: AttackResult, maxExecuted: number) => {
  // Refused at once, not after its backlog grew: only the replies that fit before the outbox reached its low
  // watermark (the kernel's socket buffers, up to a few MB on loopback, take some first) were executed.
  expect(r.executed).toBeGreaterThanOrEqual(1);
  expect(r.executed).toBeLessThanOrEqual(maxExecuted);
  expect(r.otherReplies).toBe(0);
  if (r.closeCode === undefined) {
    expect(r.refused).toBeGreaterThan(50);
    // Pings stay answered meanwhile (behind the unread replies).
    expect(r.pongs).toBe(r.pings);
  } else {
    expect(r.closeCode).toBe(CloseCode.SLOW_CONSUMER);
  }
  // The server held about one budget for it (plus the garbage of building the few replies it did execute),
  // not one reply per request: the old cost was ~4.3 MB per recover and ~0.9 MB per history page, 20 per
  // second, hundreds of MB within these seconds.
  expect(r.rssGrowth).toBeLessThan(6 * BUDGET);
  // Its own account of the connection's outbox never passed the budget.
  await connectionsSettle(server.httpUrl, 1);
  expect(await metric(server.httpUrl, 'chat_outbox_peak_bytes_bucket{le="8388608"}')).toBe(
    await metric(server.httpUrl, "chat_outbox_peak_bytes_count"),
  );
  expect(await metric(server.httpUrl, "chat_outbox_peak_bytes_count")).toBeGreaterThan(0);
};

describe("a client that stops reading and keeps asking for large replies", () => {
  it("history pages of 200 × 4 KiB: refused while its replies sit unread; the server's cost stays about one budget", async () => {
    // A page is ~0.9 MB.
    await expectBounded(
      await attack(
        { case: "history", value: { roomCode, anchorSeq: 0n, direction: HistoryDirection.BACKWARD, limit: 200 } },
        "historyPage",
      ),
      20,
    );
  }, 40_000);

  it("recover of ~1,000 × 4 KiB messages: the same", async () => {
    // A recovery is ~4.3 MB: the kernel takes at most a couple before the outbox backs up.
    await expectBounded(await attack({ case: "recover", value: { roomCode, afterSeq: 0n } }, "recoverResult"), 4);
  }, 40_000);
});
