// Missed-pong detection against a server that authenticates and then never answers a Ping: the client must
// give the socket up after two unanswered Pings (about three intervals) and reconnect with its token.
// The server here is a few lines of raw `ws` speaking the real protocol, so it can misbehave on purpose.
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { type ClientFrame, ClientFrameSchema, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { ChatClient } from "./index.ts";
import { record, until } from "./test-support.ts";

const INTERVAL = 100;
type ServerKind = NonNullable<MessageInitShape<typeof ServerFrameSchema>["kind"]>;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
});

interface Seen {
  readonly frames: ClientFrame[];
  readonly openedAt: number;
  closedAt?: number;
  closeCode?: number;
}

/** A server that answers register/resume with AuthOk and, when `answerPings` is false, ignores Pings. */
async function silentServer(answerPings: () => boolean) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const connections: Seen[] = [];
  wss.on("connection", (socket) => {
    const seen: Seen = { frames: [], openedAt: Date.now() };
    connections.push(seen);
    socket.on("close", (code) => {
      seen.closedAt = Date.now();
      seen.closeCode = code;
    });
    socket.on("message", (data: Buffer) => {
      const frame = fromBinary(ClientFrameSchema, new Uint8Array(data));
      seen.frames.push(frame);
      const reply = (kind: ServerKind) =>
        socket.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, { id: frame.id, kind })));
      switch (frame.kind.case) {
        case "register":
        case "resume":
          reply({ case: "authOk", value: { username: "silent", sessionToken: "tok-1", heartbeatIntervalMs: INTERVAL, heartbeatTimeoutMs: 10_000, maxFrameBytes: 65536 } });
          return;
        case "ping":
          if (answerPings()) reply({ case: "pong", value: { nonce: frame.kind.value.nonce, clientTimeMs: frame.kind.value.clientTimeMs, serverTimeMs: BigInt(Date.now()) } });
          return;
        default:
          return;
      }
    });
  });
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const c of wss.clients) c.terminate();
    wss.close(() => resolve());
  }));
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, connections };
}

it("drops a connection after two unanswered pings and reconnects with resume", async () => {
  const server = await silentServer(() => false);
  const c = new ChatClient({ url: server.url, reconnect: { initialMs: 10, maxMs: 50 } });
  cleanups.push(() => c.close());
  const events = record(c);
  const authedAt = Date.now();
  await c.register("silent", "correct horse battery");

  await until(() => events.of("closed").length > 0, "the client gives up the socket", 2000);
  const closed = events.log.find((e) => e.event === "closed")!;
  expect(closed.payload).toMatchObject({ code: 4000, willReconnect: true });
  const after = closed.at - authedAt;
  expect(after).toBeGreaterThanOrEqual(2 * INTERVAL); // not before the second ping went unanswered
  expect(after).toBeLessThan(3 * INTERVAL + 250); // about three intervals, with timer slack
  const first = server.connections[0]!;
  expect(first.frames.filter((f) => f.kind.case === "ping").length).toBe(2);

  // It comes back on its own with the session token, and the old socket is closed.
  await until(() => server.connections.length >= 2 && c.state === "connected", "reconnected", 2000);
  const resume = server.connections[1]!.frames[0]!;
  expect(resume.kind).toMatchObject({ case: "resume", value: { sessionToken: "tok-1" } });
  await until(() => first.closedAt !== undefined, "first socket closed");
  expect(events.of("state").map((s) => s.state)).toEqual(["connecting", "connected", "connecting", "connected"]);
});

it("keeps a connection that misses a single pong", async () => {
  let answer = true;
  const server = await silentServer(() => answer);
  const c = new ChatClient({ url: server.url });
  cleanups.push(() => c.close());
  const events = record(c);
  await c.register("silent", "correct horse battery");
  await new Promise((r) => setTimeout(r, INTERVAL * 6));
  // One ping unanswered (the window is shorter than an interval) is not yet a dead connection.
  const pingsBefore = server.connections[0]!.frames.filter((f) => f.kind.case === "ping").length;
  answer = false;
  await new Promise((r) => setTimeout(r, INTERVAL * 0.9));
  answer = true;
  await new Promise((r) => setTimeout(r, INTERVAL * 4));
  expect(events.of("closed")).toEqual([]);
  expect(c.state).toBe("connected");
  expect(server.connections).toHaveLength(1);
  const pings = server.connections[0]!.frames.filter((f) => f.kind.case === "ping").length;
  expect(pings).toBeGreaterThanOrEqual(9);
  expect(pings).toBeGreaterThan(pingsBefore);
});
