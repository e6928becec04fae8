// Missed-pong detection against a server that authenticates and then never answers a Ping: the client must
// give the socket up after two unanswered Pings (about three intervals) and reconnect with its token.
// The server here is a few lines of raw `ws` speaking the real protocol, so it can misbehave on purpose.
import { afterEach, expect, it } from "vitest";
import { ChatClient } from "./index.ts";
import { record, scriptedServer, until } from "./test-support.ts";

const INTERVAL = 100;
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0)) await f();
});
const silentServer = async (answerPings: () => boolean) => {
  const s = await scriptedServer({ heartbeatIntervalMs: INTERVAL, answerPings });
  cleanups.push(s.close);
  return s;
};

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
  expect(after).toBeLessThan(3 * INTERVAL + 400); // about three intervals, with slack for a loaded machine
  const first = server.connections[0]!;
  // Exactly two pings: the socket is given up when the second goes unanswered, not later.
  expect(first.frames.filter((f) => f.kind.case === "ping").length).toBe(2);

  // It comes back on its own with the session token, and the old socket is closed.
  await until(() => server.connections.length >= 2 && c.state === "connected", "reconnected", 2000);
  const resume = server.connections[1]!.frames[0]!;
  expect(resume.kind).toMatchObject({ case: "resume", value: { sessionToken: "tok-1" } });
  await until(() => first.closedAt !== undefined, "first socket closed");
  expect(events.of("state").map((s) => s.state)).toEqual(["connecting", "connected", "connecting", "connected"]);
});

it("keeps a connection that misses a single pong", async () => {
  let pings = 0;
  const server = await silentServer(() => ++pings !== 3); // exactly the third ping goes unanswered
  const c = new ChatClient({ url: server.url });
  cleanups.push(() => c.close());
  const events = record(c);
  await c.register("silent", "correct horse battery");
  await until(() => pings >= 8, "eight pings", 3000);
  expect(events.of("closed")).toEqual([]);
  expect(c.state).toBe("connected");
  expect(server.connections).toHaveLength(1);
});
