// load/smoke: seconds long, runs in CI. 4 rooms x 6 members, every member its own registered user, 2 senders
// per room, 40 messages/s for 10 s (240 deliveries/s). Fails on any seq gap, any lost delivery, or p95/p99
// latency beyond generous bounds (CI machines are shared and small).
import { num, type Scenario } from "../src/scenario.ts";
import { runTraffic } from "../src/traffic.ts";

export const scenario: Scenario = {
  name: "smoke",
  description: "4 rooms x 6 registered users, 40 msg/s for 10 s; thresholds on latency, gaps and deliveries",
  serverFlags: ["--rate-limit-per-sec", "200", "--rate-limit-burst", "400"],
  run: (target, args) =>
    runTraffic(
      target,
      {
        rooms: num(args, "rooms", 4),
        membersPerRoom: num(args, "members", 6),
        sendersPerRoom: num(args, "senders", 2),
        users: "unique",
        stages: [{ durationSec: num(args, "duration", 10), rate: num(args, "rate", 40) }],
        textBytes: num(args, "text-bytes", 64),
        drainMs: 5000,
        connectConcurrency: 8,
      },
      {
        e2e_latency_ms: ["p(95)<100", "p(99)<250"],
        connect_to_ready_ms: ["p(95)<3000"],
        seq_gaps: ["count==0"],
        delivered_ratio: ["value>0.999"],
        acked_ratio: ["value==1"],
        unexpected_closes: ["count==0"],
        checks: ["rate==1"],
      },
    ),
};
