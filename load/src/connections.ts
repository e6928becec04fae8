// Idle authenticated connections: open them in steps, each presenting a pool user's session token at the
// upgrade (so it starts authenticated with an AuthOk push) and pinging every announced heartbeat interval.
// After each step settles, the server's RSS is read from /proc; a least-squares line through
// (connections, RSS) gives the memory each connection costs. Then all are held for a while: none may drop.
import { randomBytes } from "node:crypto";
import { ChatConn, nowMs } from "./chat-conn.ts";
import { Registry } from "./metrics.ts";
import { pool, rssBytes, sleep } from "./proc.ts";
import { fitLine } from "./samples.ts";
import type { ScenarioOutcome, Target } from "./scenario.ts";

export interface ConnectionsOptions {
  readonly total: number;
  readonly steps: number;
  readonly users: number;
  readonly settleMs: number;
  readonly holdSec: number;
  readonly connectConcurrency: number;
  /** Source addresses to spread connections over (127.0.0.x), for more ephemeral ports. */
  readonly sourceAddresses: ReadonlyArray<string>;
}

export const runConnections = async (
  target: Target,
  o: ConnectionsOptions,
  thresholds: Record<string, ReadonlyArray<string>>,
): Promise<ScenarioOutcome> => {
  const registry = new Registry();
  const checks = registry.rate("checks");
  const connectToReady = registry.trend("connect_to_ready_ms");
  const unexpectedCloses = registry.counter("unexpected_closes");
  const pongs = registry.counter("pongs");
  const runId = randomBytes(4).toString("hex");
  const notes: Record<string, unknown> = {};
  const started = nowMs();

  const tokens = await pool(
    Array.from({ length: o.users }, (_, i) => i),
    8,
    async (i) => {
      const conn = await ChatConn.open(target.wsUrl);
      const ok = await conn.call({ case: "register", value: { username: `lc-${runId}-u${i}`, password: "load-test-password" } }, "authOk");
      conn.close();
      return ok.sessionToken;
    },
  );
  await sleep(o.settleMs);

  const conns: ChatConn[] = [];
  const rss: Array<readonly [number, number]> = [];
  const sampleRss = () => {
    if (target.serverPid) rss.push([conns.length, rssBytes(target.serverPid)]);
  };
  sampleRss();
  const perStep = Math.ceil(o.total / o.steps);
  for (let step = 0; step < o.steps; step++) {
    const from = conns.length;
    const to = Math.min(o.total, from + perStep);
    const opened = await pool(
      Array.from({ length: to - from }, (_, i) => from + i),
      o.connectConcurrency,
      async (c) => {
        try {
          const source = o.sourceAddresses[c % o.sourceAddresses.length];
          const conn = await ChatConn.open(target.wsUrl, {
            token: tokens[c % tokens.length]!,
            ...(source ? { localAddress: source } : {}),
          });
          const auth = await conn.authPush!;
          connectToReady.add(nowMs() - conn.startedAt);
          checks.add(true);
          conn.onSendReply = (f) => {
            if (f.kind.case === "pong") pongs.add();
          };
          conn.onClose = (code, wanted) => {
            if (!wanted) {
              unexpectedCloses.add();
              checks.add(false);
              notes[`close ${code}`] = ((notes[`close ${code}`] as number | undefined) ?? 0) + 1;
            }
          };
          conn.startHeartbeat(auth.heartbeatIntervalMs);
          return conn;
        } catch (e) {
          checks.add(false);
          notes.firstConnectError ??= (e as Error).message;
          return undefined;
        }
      },
    );
    for (const c of opened) if (c) conns.push(c);
    await sleep(o.settleMs);
    sampleRss();
    process.stderr.write(
      `connections: ${conns.length} open${target.serverPid ? `, server RSS ${(rss.at(-1)![1] / 2 ** 20).toFixed(1)} MiB` : ""}\n`,
    );
  }
  const holdStart = nowMs();
  await sleep(o.holdSec * 1000);
  sampleRss();
  const open = conns.filter((c) => c.ws.readyState === c.ws.OPEN).length;

  registry.gauge("connections_open", open);
  registry.gauge("connections_ready_ratio", open / o.total);
  if (rss.length >= 3) {
    // The slope over the opening steps (the hold sample is left out: it shows drift, not cost).
    const fit = fitLine(rss.slice(0, -1));
    registry.gauge("server_rss_bytes_per_connection", fit.slope, "B");
    notes.rssFitR2 = fit.r2;
    notes.rssBaselineMiB = rss[0]![1] / 2 ** 20;
    notes.rssAtMaxMiB = rss.at(-2)![1] / 2 ** 20;
    notes.rssAfterHoldMiB = rss.at(-1)![1] / 2 ** 20;
  }
  notes.rssSamples = rss.map(([n, b]) => ({ connections: n, rssMiB: Math.round((b / 2 ** 20) * 10) / 10 }));
  notes.holdSec = (nowMs() - holdStart) / 1000;

  for (const c of conns) c.close();
  await sleep(500);
  return { registry, timeline: undefined, durationSec: (nowMs() - started) / 1000, options: { ...o }, thresholds, notes };
};
