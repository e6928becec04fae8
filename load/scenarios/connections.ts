// load/connections: hold N idle authenticated connections (default 10,000 over 100 users, opened in 5
// steps), each answering heartbeats, and report the server's memory per connection from its RSS slope.
import { num, type Scenario } from "../src/scenario.ts";
import { runConnections } from "../src/connections.ts";

export const scenario: Scenario = {
  name: "connections",
  description: "10,000 idle authenticated connections in 5 steps, held 20 s with heartbeats; RSS slope per connection",
  serverFlags: ["--max-connections", "50000"],
  fileLimit: 65_536,
  run: (target, args) => {
    const total = num(args, "connections", 10_000);
    const sources = num(args, "source-addresses", 1);
    return runConnections(
      target,
      {
        total,
        steps: num(args, "steps", 5),
        users: num(args, "users", 100),
        settleMs: num(args, "settle-ms", 3000),
        holdSec: num(args, "hold", 20),
        connectConcurrency: num(args, "concurrency", 100),
        sourceAddresses: Array.from({ length: sources }, (_, i) => `127.0.0.${i + 1}`),
      },
      {
        connections_ready_ratio: ["value==1"],
        unexpected_closes: ["count==0"],
        checks: ["rate==1"],
        connect_to_ready_ms: ["p(95)<2000"],
      },
    );
  },
};
