// The end of a session as a listener sees it: when `closed` says the client will not reconnect, the client
// has already stopped (disconnected, token forgotten on 4104, every unacked send rejected), and a listener
// may start over from inside the event (log in again) without the rest of the close undoing it. Also the
// session values of AuthOk (room grace, typing TTL) with the contract's defaults when a server leaves them out.
import { afterEach, expect, it } from "vitest";
import { startServer, type TestServer } from "../../../server/src/testing.ts";
import { ChatClient, CloseCode } from "./index.ts";
import { PASSWORD, record, scriptedServer, sleep, uniqueName, until } from "./test-support.ts";

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

it("after two 4103 closes, every unacked send is already rejected when `closed` (willReconnect: false) arrives", async () => {
  // A tiny per-connection budget: fifty sends at once are refused and the server closes with 4103; the SDK
  // retries once after a pause, is closed again, and stops (what <chat-app> showed as "Sending…" for ever).
  const server: TestServer = await startServer({
    rateLimitPerSec: 2,
    rateLimitBurst: 8,
    heartbeatIntervalMs: 1000,
    registerPerIpPerMin: 1000,
  });
  cleanups.push(() => server.close());
  const c = new ChatClient({ url: server.wsUrl, reconnect: { initialMs: 20, maxMs: 200 } });
  cleanups.push(() => c.close());
  await c.register(uniqueName("flood"), PASSWORD);
  const code = (await c.createRoom("flood")).room!.code;
  const status: Array<"pending" | "acked" | "failed"> = [];
  for (let i = 0; i < 50; i++) {
    status.push("pending");
    c.send(code, `flood ${i}`).acked.then(
      () => (status[i] = "acked"),
      () => (status[i] = "failed"),
    );
  }
  const atClose: { state?: string; pendingAfterHandlers?: number; closes: number[] } = { closes: [] };
  c.on("closed", (e) => {
    atClose.closes.push(e.code);
    if (e.willReconnect) return;
    atClose.state = c.state;
    // Promise handlers already queued (the rejections) run before this one.
    queueMicrotask(() => (atClose.pendingAfterHandlers = status.filter((s) => s === "pending").length));
  });
  await until(() => atClose.state !== undefined, "the final close", 20_000);
  await sleep(0);
  expect(atClose.closes).toEqual([CloseCode.RATE_LIMITED, CloseCode.RATE_LIMITED]);
  expect(atClose.state).toBe("disconnected");
  expect(atClose.pendingAfterHandlers).toBe(0);
  expect(status.filter((s) => s === "failed").length).toBeGreaterThan(0);
});

it("a `closed` listener can log in again at once: the rest of the close does not undo it", async () => {
  // Connection 0 is revoked (4104) right after its auth; the listener logs in again from inside the event.
  const server = await scriptedServer({ heartbeatIntervalMs: 5000, closeWith: (n) => (n === 0 ? CloseCode.SESSION_REVOKED : undefined) });
  cleanups.push(server.close);
  const c = new ChatClient({ url: server.url, reconnect: { initialMs: 10, maxMs: 50 } });
  cleanups.push(() => c.close());
  const events = record(c);
  const seen: { state?: string; token?: string | undefined; relogin?: Promise<unknown> } = {};
  c.on("closed", (e) => {
    if (e.willReconnect || seen.relogin) return;
    seen.state = c.state;
    seen.token = c.token;
    seen.relogin = c.login("scripted", PASSWORD);
  });
  await c.register("scripted", PASSWORD);
  await until(() => seen.relogin !== undefined, "the revocation");
  expect(seen.state).toBe("disconnected");
  expect(seen.token).toBeUndefined();
  await expect(seen.relogin).resolves.toMatchObject({ username: "scripted" });
  await sleep(100);
  expect(c.state).toBe("connected");
  expect(server.connections).toHaveLength(2);
  expect(server.connections[1]!.closedAt).toBeUndefined();
  // The revocation is reported once, in order: closed, error, disconnected; then the new session.
  expect(events.log.map((e) => e.event).filter((e) => e !== "authenticated")).toEqual([
    "state",
    "state",
    "closed",
    "error",
    "state",
    "state",
    "state",
  ]);
  expect(events.of("state").map((s) => s.state)).toEqual(["connecting", "connected", "disconnected", "connecting", "connected"]);
});

it("exposes the session's room grace and typing TTL from AuthOk, with the contract's defaults when left out", async () => {
  const older = await scriptedServer({ heartbeatIntervalMs: 5000 });
  const newer = await scriptedServer({ heartbeatIntervalMs: 5000, authOk: { roomGraceMs: 1234, typingTtlMs: 2345 } });
  cleanups.push(older.close, newer.close);
  const a = new ChatClient({ url: older.url });
  const b = new ChatClient({ url: newer.url, requestTimeoutMs: 300 }); // the scripted server does not answer logout
  cleanups.push(
    () => a.close(),
    () => b.close(),
  );
  expect(a.session).toBeUndefined();
  await a.register("scripted", PASSWORD);
  await b.register("scripted", PASSWORD);
  expect(a.session).toMatchObject({
    username: "scripted",
    token: "tok-1",
    roomGraceMs: 30_000,
    typingTtlMs: 5000,
    heartbeatIntervalMs: 5000,
  });
  expect(b.session).toMatchObject({ roomGraceMs: 1234, typingTtlMs: 2345 });
  await b.logout();
  expect(b.session).toBeUndefined();
});
