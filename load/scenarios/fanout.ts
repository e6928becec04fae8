// load/fanout: many members per room, stepped rate. 2 rooms x 250 members (25 users, connections share
// their tokens), 5 senders per room; the rate steps up 20 -> 40 -> 80 -> 120 messages/s, 10 s each, so
// deliveries step 5k -> 10k -> 20k -> 30k per second. Reports latency and server CPU per stage.
import { num, type Scenario } from "../src/scenario.ts";
import { runTraffic } from "../src/traffic.ts";

export const scenario: Scenario = {
  name: "fanout",
  description: "2 rooms x 250 members, rate stepped 20/40/80/120 msg/s (10 s each)",
  serverFlags: ["--rate-limit-per-sec", "1000", "--rate-limit-burst", "2000", "--outbox-frames", "8192"],
  run: (target, args) => {
    const step = num(args, "step-seconds", 10);
    const rates = (args.rates ?? "20,40,80,120").split(",").map(Number);
    return runTraffic(
      target,
      {
        rooms: num(args, "rooms", 2),
        membersPerRoom: num(args, "members", 250),
        sendersPerRoom: num(args, "senders", 5),
        users: num(args, "users", 25),
        stages: rates.map((rate) => ({ durationSec: step, rate })),
        textBytes: num(args, "text-bytes", 64),
        drainMs: 10_000,
        connectConcurrency: 32,
      },
      {
        "e2e_latency_ms{stage:1}": ["p(99)<50"],
        seq_gaps: ["count==0"],
        delivered_ratio: ["value>0.999"],
        unexpected_closes: ["count==0"],
      },
    );
  },
};
