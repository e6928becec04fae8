// load/rooms: many small rooms. 300 rooms x 5 members (1500 connections over 150 users), 1 sender per room
// at 300 messages/s in all for 30 s (1500 deliveries/s spread over every room).
import { num, type Scenario } from "../src/scenario.ts";
import { runTraffic } from "../src/traffic.ts";

export const scenario: Scenario = {
  name: "rooms",
  description: "300 rooms x 5 members, 300 msg/s over all rooms for 30 s",
  serverFlags: ["--rate-limit-per-sec", "200", "--rate-limit-burst", "400"],
  run: (target, args) =>
    runTraffic(
      target,
      {
        rooms: num(args, "rooms", 300),
        membersPerRoom: num(args, "members", 5),
        sendersPerRoom: num(args, "senders", 1),
        users: num(args, "users", 150),
        stages: [{ durationSec: num(args, "duration", 30), rate: num(args, "rate", 300) }],
        textBytes: num(args, "text-bytes", 64),
        drainMs: 10_000,
        connectConcurrency: 32,
      },
      {
        e2e_latency_ms: ["p(95)<50", "p(99)<100"],
        seq_gaps: ["count==0"],
        delivered_ratio: ["value>0.999"],
        unexpected_closes: ["count==0"],
      },
    ),
};
