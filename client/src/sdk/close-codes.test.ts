// Each close-code class, against a scripted server that closes authenticated connections on cue:
// transient codes reconnect, 4100/4101 and 4103 get one more try, protocol bugs and 1000 stop at once.
import { afterEach, expect, it } from "vitest";
import { ChatClient, CloseCode } from "./index.ts";
import { record, scriptedServer, sleep, until } from "./test-support.ts";

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

async function setup(closeWith: (connection: number) => number | undefined, refuseAuth?: (connection: number) => number | undefined) {
  const server = await scriptedServer({ heartbeatIntervalMs: 5000, closeWith, ...(refuseAuth ? { refuseAuth } : {}) });
  cleanups.push(server.close);
  const c = new ChatClient({ url: server.url, reconnect: { initialMs: 10, maxMs: 100 }, random: () => 0 });
  cleanups.push(() => c.close());
  const events = record(c);
  await c.register("scripted", "correct horse battery");
  return { server, c, events };
}

it.each([CloseCode.UNSUPPORTED_DATA, CloseCode.MESSAGE_TOO_BIG, CloseCode.PROTOCOL_VIOLATION, CloseCode.NORMAL])(
  "close %i stops at once with an error event",
  async (code) => {
    const { server, c, events } = await setup(() => code);
    await until(() => c.state === "disconnected", "disconnected");
    expect(events.of("closed")).toEqual([{ code, reason: "scripted", willReconnect: false }]);
    expect(events.of("error").map((e) => e.closeCode)).toEqual([code]);
    expect(c.token).toBe("tok-1"); // not a revocation: the app may resume later
    await sleep(150);
    expect(server.connections).toHaveLength(1);
  },
);

it.each([CloseCode.AUTH_TIMEOUT, CloseCode.NOT_AUTHENTICATED])("close %i: one more try, then stop", async (code) => {
  // The first connection authenticates and is then closed; the retry is closed before its resume succeeds.
  const { server, c, events } = await setup(
    () => code,
    (n) => (n === 0 ? undefined : code),
  );
  await until(() => c.state === "disconnected", "disconnected");
  expect(events.of("closed").map((e) => [e.code, e.willReconnect])).toEqual([
    [code, true],
    [code, false],
  ]);
  await sleep(150);
  expect(server.connections).toHaveLength(2);
  expect(server.connections[1]!.frames[0]!.kind.case).toBe("resume");
});

it("close 4103: one slower retry, then stop", async () => {
  const { server, c, events } = await setup(() => CloseCode.RATE_LIMITED);
  await until(() => c.state === "disconnected", "disconnected");
  const retry = events.of("state").find((s) => s.state === "connecting" && s.closeCode === CloseCode.RATE_LIMITED)!;
  expect(retry.nextRetryMs).toBe(20); // random() = 0 still waits half of 4 × initialMs
  expect(events.of("closed").map((e) => e.willReconnect)).toEqual([true, false]);
  expect(events.of("error").map((e) => e.closeCode)).toEqual([CloseCode.RATE_LIMITED]);
  await sleep(150);
  expect(server.connections).toHaveLength(2);
});

it("transient codes (4001, 4000, 1011, 4002) keep reconnecting until the connection holds", async () => {
  const codes = [CloseCode.SLOW_CONSUMER, CloseCode.HEARTBEAT_TIMEOUT, CloseCode.INTERNAL_ERROR, CloseCode.SERVER_BUSY];
  const { server, c, events } = await setup((n) => codes[n]);
  await until(() => server.connections.length === 5 && c.state === "connected", "fifth connection holds", 3000);
  expect(events.of("closed").map((e) => [e.code, e.willReconnect])).toEqual(codes.map((code) => [code, true]));
  expect(events.of("error")).toEqual([]);
  // Auth succeeded in between, so the backoff restarted each time: attempt 1 every time.
  expect(
    events
      .of("state")
      .filter((s) => s.state === "connecting" && s.closeCode !== undefined)
      .map((s) => s.attempt),
  ).toEqual([1, 1, 1, 1]);
});

it("a 4100 after a good connection is forgiven: the strike count resets on auth", async () => {
  const { server, c, events } = await setup((n) =>
    n === 0 || n === 2 ? CloseCode.AUTH_TIMEOUT : n === 1 ? CloseCode.HEARTBEAT_TIMEOUT : undefined,
  );
  await until(() => server.connections.length === 4 && c.state === "connected", "fourth connection holds", 3000);
  expect(events.of("closed").every((e) => e.willReconnect)).toBe(true);
});
