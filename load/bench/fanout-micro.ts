// Microbenchmark of the server's in-process fan-out path, without sockets: HubCore.deliver to every member's
// Outbox, whose sink only counts bytes. Measures the JavaScript cost per delivery (hub iteration, peer
// callback, outbox checks) that sits on top of the write system call, in CPU ns per delivery.
//   node load/bench/fanout-micro.ts [--members 100] [--messages 200000]
import { parseArgs } from "node:util";
import { encodePush, HubCore, type Peer, type Timers } from "../../server/src/hub/hub.ts";
import { Outbox } from "../../server/src/session/outbox.ts";
import type { Sink, Wire } from "../../server/src/transport/wire.ts";

const { values } = parseArgs({
  options: {
    members: { type: "string", default: "100" },
    messages: { type: "string", default: "200000" },
    rounds: { type: "string", default: "5" },
  },
});
const members = Number(values.members);
const messages = Number(values.messages);
const timers: Timers = { schedule() {}, cancel() {} };
const hub = new HubCore({ timers, typingTtlMs: 5000 });
let bytes = 0;
const sink: Sink = {
  write(wire: Wire) {
    bytes += wire.length;
  },
  bufferedAmount: 0,
  whenDrained(ready) {
    ready();
    return () => {};
  },
};
for (let i = 0; i < members; i++) {
  const outbox = new Outbox(sink, { maxBytes: 8 * 1024 * 1024, maxFrames: 1024, lowWaterBytes: 1024 * 1024 }, () => {
    throw new Error("overflow");
  });
  const peer: Peer = { id: i, username: `u${i}`, token: `t${i}`, send: (b, d) => outbox.push(b, d), terminate() {} };
  hub.addPeer(peer);
  hub.join("ROOM01", false, 0n, peer);
}
const frame = encodePush({
  case: "message",
  value: { roomCode: "ROOM01", seq: 1n, sender: "u0", sentAtMs: 1n, text: "x".repeat(64), clientMessageId: "m" },
});
let seq = 1n;
const results: number[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  const start = process.cpuUsage();
  for (let m = 0; m < messages / members; m++) hub.deliver("ROOM01", seq++, frame);
  const used = process.cpuUsage(start);
  results.push(((used.user + used.system) * 1000) / messages);
}
results.sort((a, b) => a - b);
process.stdout.write(
  `fan-out to ${members} members: ${results.map((r) => r.toFixed(1)).join(" ")} ns per delivery (median ${results[Math.floor(results.length / 2)]!.toFixed(1)}; ${bytes} bytes)\n`,
);
