// Room traffic against the chat server, the engine behind the smoke, fanout and rooms scenarios.
//
// Setup: users register (one per connection, or a pool whose session tokens many connections present at the
// upgrade); a few owner connections create the rooms; every member connection joins its room by code.
// Load: an open model. Message j of a stage is *scheduled* at stageStart + j/rate, whatever happened to
// earlier ones, and goes round-robin over rooms and their senders. Its text carries that scheduled time, so
// every receiver measures latency from when the message should have been sent: a slow server cannot hide
// its queueing by slowing the sender down (no coordinated omission).
// Checks: every member's seq in its room must go up by exactly 1 (gaps, duplicates and reordering count
// in seq_gaps), every send must be acked, every expected delivery must arrive (delivered_ratio).
import { monitorEventLoopDelay } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { ChatConn, nowMs } from "./chat-conn.ts";
import { Registry } from "./metrics.ts";
import { cpuSeconds, pool, sleep, waitUntil, writeSyscalls } from "./proc.ts";
import { Timeline } from "./report.ts";
import type { ScenarioOutcome, Target } from "./scenario.ts";

export interface Stage {
  readonly durationSec: number;
  /** Messages per second over all rooms together. */
  readonly rate: number;
}

export interface TrafficOptions {
  readonly rooms: number;
  readonly membersPerRoom: number;
  readonly sendersPerRoom: number;
  /** "unique": every connection registers its own user in-band; a number: that many users, connections share their tokens. */
  readonly users: "unique" | number;
  readonly stages: ReadonlyArray<Stage>;
  /** Length of each message text in bytes (the scheduled time and ids, padded). */
  readonly textBytes: number;
  /** How long to wait after the last scheduled send for the deliveries still in flight. */
  readonly drainMs: number;
  readonly connectConcurrency: number;
}

const PASSWORD = "load-test-password";

interface Member {
  readonly conn: ChatConn;
  readonly room: number;
  lastSeq: number;
}

export const runTraffic = async (
  target: Target,
  o: TrafficOptions,
  thresholds: Record<string, ReadonlyArray<string>>,
): Promise<ScenarioOutcome> => {
  const registry = new Registry();
  const checks = registry.rate("checks");
  const latency = registry.trend("e2e_latency_ms");
  const connectToReady = registry.trend("connect_to_ready_ms");
  const deliveries = registry.counter("deliveries");
  const sentCounter = registry.counter("messages_sent");
  const acks = registry.counter("send_acks");
  const sendErrors = registry.counter("send_errors");
  const seqGaps = registry.counter("seq_gaps");
  const unexpectedCloses = registry.counter("unexpected_closes");
  const stageLatency = o.stages.length > 1 ? o.stages.map((_, i) => registry.trend(`e2e_latency_ms{stage:${i + 1}}`)) : undefined;
  const stageDeliveries = o.stages.map(() => 0);
  const runId = randomBytes(4).toString("hex");
  const notes: Record<string, unknown> = {};
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });

  // --- users ---
  const register = async (name: string): Promise<{ conn: ChatConn; token: string; heartbeatMs: number }> => {
    const conn = await ChatConn.open(target.wsUrl);
    const ok = await conn.call({ case: "register", value: { username: name, password: PASSWORD } }, "authOk");
    return { conn, token: ok.sessionToken, heartbeatMs: ok.heartbeatIntervalMs };
  };
  const totalConns = o.rooms * o.membersPerRoom;
  let tokens: string[] = [];
  const setupStart = nowMs();
  if (o.users !== "unique") {
    const n = Math.min(o.users, totalConns);
    tokens = await pool(
      Array.from({ length: n }, (_, i) => i),
      8,
      async (i) => {
        const r = await register(`lt-${runId}-u${i}`);
        r.conn.close();
        return r.token;
      },
    );
  }

  // --- rooms: owners create them (at most 90 per owner connection, below the per-connection cap) ---
  const owners: ChatConn[] = [];
  const codes: string[] = [];
  for (let first = 0; first < o.rooms; first += 90) {
    const owner = await register(`lt-${runId}-owner${first}`);
    owners.push(owner.conn);
    owner.conn.startHeartbeat(owner.heartbeatMs);
    for (let r = first; r < Math.min(o.rooms, first + 90); r++) {
      const joined = await owner.conn.call({ case: "createRoom", value: { name: "", persistent: false } }, "roomJoined");
      codes.push(joined.room!.code);
    }
  }

  // --- members ---
  let received = 0;
  let expected = 0;
  let stageOf = (_at: number): number => 0;
  const timeline = new Timeline(nowMs());
  const onMessage = (member: Member) => (m: { seq: bigint; text: string }, at: number) => {
    const seq = Number(m.seq);
    if (seq !== member.lastSeq + 1) seqGaps.add(seq > member.lastSeq ? seq - member.lastSeq - 1 : 1);
    if (seq > member.lastSeq) member.lastSeq = seq;
    const space = m.text.indexOf(" ");
    const scheduled = Number(m.text.slice(0, space));
    const stage = Number(m.text.slice(space + 1, m.text.indexOf(" ", space + 1)));
    const ms = at - scheduled;
    latency.add(ms);
    stageLatency?.[stage]?.add(ms);
    received++;
    deliveries.add();
    const windowStage = stageOf(at);
    if (windowStage >= 0) stageDeliveries[windowStage]!++;
    timeline.count("deliveries/s", at);
    timeline.latencyAt(at, ms);
  };

  const slots = Array.from({ length: totalConns }, (_, c) => c);
  let heartbeatMs = 5000;
  const members = await pool(slots, o.connectConcurrency, async (c): Promise<Member> => {
    const room = Math.floor(c / o.membersPerRoom);
    let conn: ChatConn;
    try {
      if (o.users === "unique") {
        const r = await register(`lt-${runId}-c${c}`);
        conn = r.conn;
        heartbeatMs = r.heartbeatMs;
      } else {
        conn = await ChatConn.open(target.wsUrl, { token: tokens[c % tokens.length]! });
        heartbeatMs = (await conn.authPush!).heartbeatIntervalMs;
      }
      const joined = await conn.call({ case: "joinRoom", value: { code: codes[room]! } }, "roomJoined");
      connectToReady.add(nowMs() - conn.startedAt);
      checks.add(true);
      const member: Member = { conn, room, lastSeq: Number(joined.lastSeq) };
      conn.onMessage = onMessage(member);
      conn.onSendReply = (f) => {
        if (f.kind.case === "sendAck") {
          acks.add();
          checks.add(true);
        } else if (f.kind.case === "error") {
          sendErrors.add();
          checks.add(false);
        }
      };
      conn.onClose = (code, wanted) => {
        if (!wanted) {
          unexpectedCloses.add();
          checks.add(false);
          notes[`close ${code}`] = ((notes[`close ${code}`] as number | undefined) ?? 0) + 1;
        }
      };
      conn.startHeartbeat(heartbeatMs);
      return member;
    } catch (e) {
      checks.add(false);
      throw new Error(`connection ${c} failed to get ready: ${(e as Error).message}`);
    }
  });
  for (const owner of owners) owner.close();
  notes.setupSec = (nowMs() - setupStart) / 1000;
  notes.connections = members.length;

  // --- senders: the first sendersPerRoom members of each room ---
  const senders: ChatConn[][] = codes.map(() => []);
  for (const m of members) if (senders[m.room]!.length < o.sendersPerRoom) senders[m.room]!.push(m.conn);
  const pad = "x".repeat(Math.max(0, o.textBytes));

  await sleep(500); // presence pushes from the joins settle
  loopDelay.enable();
  const t0 = nowMs() + 50;
  const stageStarts: number[] = [];
  let acc = t0;
  for (const s of o.stages) {
    stageStarts.push(acc);
    acc += s.durationSec * 1000;
  }
  const end = acc;
  stageOf = (at) => {
    if (at < t0 || at >= end) return -1;
    let i = stageStarts.length - 1;
    while (stageStarts[i]! > at) i--;
    return i;
  };
  const cpuAt: number[] = [];
  const syscwAt: number[] = [];
  const sampleCpu = () => {
    cpuAt.push(target.serverPid ? cpuSeconds(target.serverPid) : Number.NaN);
    syscwAt.push(target.serverPid ? writeSyscalls(target.serverPid) : Number.NaN);
  };

  await new Promise<void>((resolve) => {
    let stage = 0;
    let k = 0;
    let j = 0;
    const at = () => stageStarts[stage]! + (k * 1000) / o.stages[stage]!.rate;
    // CPU is sampled at each stage start and at the end (the scheduler wakes up for each of these).
    const boundaries = [...stageStarts, end];
    let nextBoundary = 0;
    let boundary = t0;
    const tick = () => {
      const now = nowMs();
      while (nextBoundary < boundaries.length - 1 && boundaries[nextBoundary]! <= now) {
        sampleCpu();
        boundary = boundaries[++nextBoundary]!;
      }
      while (stage < o.stages.length) {
        const scheduled = at();
        if (scheduled >= stageStarts[stage]! + o.stages[stage]!.durationSec * 1000) {
          stage++;
          k = 0;
          continue;
        }
        if (scheduled > now) break;
        const room = j % o.rooms;
        const roomSenders = senders[room]!;
        const sender = roomSenders[Math.floor(j / o.rooms) % roomSenders.length]!;
        const text = `${scheduled.toFixed(3)} ${stage} ${j} ${pad}`.slice(0, Math.max(o.textBytes, 24));
        sender.sendMessage(codes[room]!, `${runId}-${j}`, text);
        sentCounter.add();
        expected += o.membersPerRoom;
        timeline.count("sent/s", now);
        k++;
        j++;
      }
      if (stage >= o.stages.length) {
        if (nowMs() >= end) {
          sampleCpu();
          return resolve();
        }
        setTimeout(tick, end - nowMs());
        return;
      }
      setTimeout(tick, Math.max(0, Math.min(at(), boundary) - nowMs()));
    };
    setTimeout(tick, Math.max(0, t0 - nowMs()));
  });
  const sendWindowSec = (end - t0) / 1000;
  await waitUntil(() => received >= expected && acks.count + sendErrors.count >= sentCounter.count, o.drainMs);
  loopDelay.disable();

  registry.gauge("delivered_ratio", expected === 0 ? Number.NaN : received / expected);
  registry.gauge("deliveries_per_sec", deliveries.count / sendWindowSec, "1/s");
  registry.gauge("acked_ratio", sentCounter.count === 0 ? Number.NaN : acks.count / sentCounter.count);
  registry.gauge("generator_loop_delay_p99_ms", loopDelay.percentile(99) / 1e6, "ms");
  notes.expectedDeliveries = expected;
  notes.sendWindowSec = sendWindowSec;
  notes.stages = o.stages.map((s, i) => {
    const cpu = (cpuAt[i + 1] ?? Number.NaN) - (cpuAt[i] ?? Number.NaN);
    const lat = stageLatency?.[i] ?? latency;
    return {
      rate: s.rate,
      durationSec: s.durationSec,
      offeredDeliveriesPerSec: s.rate * o.membersPerRoom,
      deliveriesPerSec: stageDeliveries[i]! / s.durationSec,
      serverCpuPercent: (100 * cpu) / s.durationSec,
      serverCpuUsPerDelivery: (1e6 * cpu) / stageDeliveries[i]!,
      writeSyscallsPerDelivery: ((syscwAt[i + 1] ?? Number.NaN) - (syscwAt[i] ?? Number.NaN)) / stageDeliveries[i]!,
      p50Ms: lat.quantile(0.5),
      p99Ms: lat.quantile(0.99),
    };
  });

  for (const m of members) m.conn.close();
  await sleep(200);
  return {
    registry,
    timeline,
    durationSec: sendWindowSec,
    options: { ...o },
    thresholds,
    notes,
  };
};
