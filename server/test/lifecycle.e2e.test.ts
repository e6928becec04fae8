// A connection's life over real sockets: the auth deadline, frames before auth, Ping before auth, resume,
// logout (1000 here, 4104 on the session's other sockets), the heartbeat timeout and graceful shutdown.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode, ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { PresenceChange } from "../../proto/gen/es/chat/v1/presence_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { connectionsSettle, errorCode, health, keepAlive, sleep } from "./helpers.ts";
import { registered, uniqueName, WireClient } from "./wire-client.ts";

// Long enough for one password hash on a loaded 2-core CI machine, short enough to wait for.
const AUTH_TIMEOUT_MS = 1000;

describe("before authentication", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ authTimeoutMs: AUTH_TIMEOUT_MS });
  });
  afterAll(() => server.close());

  it("a socket that sends nothing is closed with 4100 once the auth deadline passes", async () => {
    const started = Date.now();
    const c = await WireClient.open(server.wsUrl);
    const code = await c.waitClose(3000);
    const elapsed = Date.now() - started;
    expect(code).toBe(CloseCode.AUTH_TIMEOUT);
    expect(elapsed).toBeGreaterThanOrEqual(AUTH_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(AUTH_TIMEOUT_MS + 1500);
  });

  it("a Ping before auth is answered with a Pong echoing nonce and client time, and does not extend the deadline", async () => {
    const started = Date.now();
    const c = await WireClient.open(server.wsUrl);
    const pong = await c.call({ case: "ping", value: { nonce: 42n, clientTimeMs: 1234n } }, "pong");
    expect(pong.nonce).toBe(42n);
    expect(pong.clientTimeMs).toBe(1234n);
    expect(Number(pong.serverTimeMs)).toBeGreaterThanOrEqual(started);
    await sleep(AUTH_TIMEOUT_MS / 2);
    await c.call({ case: "ping", value: { nonce: 43n } }, "pong");
    expect(await c.waitClose(3000)).toBe(CloseCode.AUTH_TIMEOUT);
    expect(Date.now() - started).toBeLessThan(AUTH_TIMEOUT_MS + 1500);
  });

  it("a failed resume keeps the connection in awaiting-auth; a later register on it succeeds", async () => {
    const c = await WireClient.open(server.wsUrl);
    // A failed resume (no password hash, so quick), as a failed login would.
    const bad = await c.request({ case: "resume", value: { sessionToken: "A".repeat(43) } });
    expect(errorCode(bad)).toBe(ErrorCode.UNAUTHENTICATED);
    const ok = await c.call({ case: "register", value: { username: uniqueName(), password: "correct horse battery" } }, "authOk");
    expect(ok.heartbeatIntervalMs).toBe(server.config.heartbeatIntervalMs);
    // Authenticated in time: the deadline no longer applies.
    await sleep(AUTH_TIMEOUT_MS + 100);
    await c.call({ case: "listRooms", value: {} }, "roomList");
    c.close();
  });
});

describe("requests before authentication", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it("a non-auth request first gets UNAUTHENTICATED with its id, then close 4101, and is not executed", async () => {
    const roomName = uniqueName("sneaky");
    const c = await WireClient.open(server.wsUrl);
    const id = c.send({ case: "createRoom", value: { name: roomName, persistent: true } });
    const reply = await c.waitFor((f) => f.id === id);
    expect(errorCode(reply)).toBe(ErrorCode.UNAUTHENTICATED);
    expect(await c.waitClose()).toBe(CloseCode.NOT_AUTHENTICATED);

    const a = await registered(server.wsUrl);
    const list = await a.client.call({ case: "listRooms", value: {} }, "roomList");
    expect(list.rooms.map((r) => r.room?.name)).not.toContain(roomName);
    a.client.close();
  });

  it("join_room before auth is refused the same way", async () => {
    const c = await WireClient.open(server.wsUrl);
    const reply = await c.request({ case: "joinRoom", value: { code: "K7QX2M" } });
    expect(errorCode(reply)).toBe(ErrorCode.UNAUTHENTICATED);
    expect(await c.waitClose()).toBe(CloseCode.NOT_AUTHENTICATED);
  });
});

describe("sessions: resume and logout", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it("resume with the token on a new socket authenticates as the same user; a second resume is ALREADY_AUTHENTICATED", async () => {
    const a = await registered(server.wsUrl);
    const b = await WireClient.open(server.wsUrl);
    const ok = await b.call({ case: "resume", value: { sessionToken: a.auth.sessionToken } }, "authOk");
    expect(ok.username).toBe(a.username);
    expect(ok.sessionToken).toBe(a.auth.sessionToken);
    const again = await b.request({ case: "resume", value: { sessionToken: a.auth.sessionToken } });
    expect(errorCode(again)).toBe(ErrorCode.ALREADY_AUTHENTICATED);
    // Both sockets act as the same member: one joins, the room snapshot lists the user once.
    const { room } = await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    const joined = await b.call({ case: "joinRoom", value: { code: room!.code } }, "roomJoined");
    expect(joined.members.map((m) => m.username)).toEqual([a.username]);
    expect(joined.memberCount).toBe(1);
    a.client.close();
    b.close();
  });

  it("logout: Ok then close 1000 here, 4104 on the session's other sockets, other sessions stay; the token is dead", async () => {
    const a = await registered(server.wsUrl);
    const sameSession = await WireClient.open(server.wsUrl, { token: a.auth.sessionToken });
    await sameSession.push("authOk");
    const sameSessionInBand = await WireClient.open(server.wsUrl);
    await sameSessionInBand.call({ case: "resume", value: { sessionToken: a.auth.sessionToken } }, "authOk");
    const otherSession = await WireClient.open(server.wsUrl);
    const other = await otherSession.call({ case: "login", value: { username: a.username, password: a.password } }, "authOk");
    expect(other.sessionToken).not.toBe(a.auth.sessionToken);

    await a.client.call({ case: "logout", value: {} }, "ok");
    expect(await a.client.waitClose()).toBe(CloseCode.NORMAL);
    expect(await sameSession.waitClose()).toBe(CloseCode.SESSION_REVOKED);
    expect(await sameSessionInBand.waitClose()).toBe(CloseCode.SESSION_REVOKED);

    // The other login of the same user is untouched.
    await otherSession.call({ case: "ping", value: { nonce: 1n } }, "pong");
    expect(otherSession.closeCode).toBeUndefined();

    await expect(WireClient.open(server.wsUrl, { token: a.auth.sessionToken })).rejects.toThrow("HTTP 401");
    const c = await WireClient.open(server.wsUrl);
    const reply = await c.request({ case: "resume", value: { sessionToken: a.auth.sessionToken } });
    expect(errorCode(reply)).toBe(ErrorCode.UNAUTHENTICATED);
    // The other session's token still works at the upgrade.
    const d = await WireClient.open(server.wsUrl, { token: other.sessionToken });
    expect((await d.push("authOk")).username).toBe(a.username);
    for (const x of [c, d, otherSession]) x.close();
  });

  it("a token in the query string authenticates at the upgrade too", async () => {
    const a = await registered(server.wsUrl);
    const b = await WireClient.open(`${server.wsUrl}?token=${encodeURIComponent(a.auth.sessionToken)}`);
    expect((await b.push("authOk")).username).toBe(a.username);
    await expect(WireClient.open(`${server.wsUrl}?token=nope`)).rejects.toThrow("HTTP 401");
    a.client.close();
    b.close();
  });
});

describe("session expiry", () => {
  it("AuthOk announces the expiry and limits; an expired token gets 401 at the upgrade and UNAUTHENTICATED on resume", async () => {
    const TTL = 400;
    const server = await startServer({ sessionTtlMs: TTL });
    try {
      const before = Date.now();
      const a = await registered(server.wsUrl);
      expect(Number(a.auth.sessionExpiresAtMs)).toBeGreaterThanOrEqual(before + TTL);
      expect(Number(a.auth.sessionExpiresAtMs)).toBeLessThanOrEqual(Date.now() + TTL);
      expect(a.auth.maxFrameBytes).toBe(65536);
      const fresh = await WireClient.open(server.wsUrl, { token: a.auth.sessionToken });
      await fresh.push("authOk");
      fresh.close();
      await sleep(Number(a.auth.sessionExpiresAtMs) - Date.now() + 50);
      await expect(WireClient.open(server.wsUrl, { token: a.auth.sessionToken })).rejects.toThrow("HTTP 401");
      const c = await WireClient.open(server.wsUrl);
      expect(errorCode(await c.request({ case: "resume", value: { sessionToken: a.auth.sessionToken } }))).toBe(ErrorCode.UNAUTHENTICATED);
      // The password still works and opens a new session.
      const again = await c.call({ case: "login", value: { username: a.username, password: a.password } }, "authOk");
      expect(again.sessionToken).not.toBe(a.auth.sessionToken);
      c.close();
      a.client.close();
    } finally {
      await server.close();
    }
  });
});

describe("heartbeat", () => {
  const INTERVAL = 100;
  const TIMEOUT = 400;
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ heartbeatIntervalMs: INTERVAL, heartbeatTimeoutMs: TIMEOUT });
  });
  afterAll(() => server.close());

  it("AuthOk announces the configured interval and timeout", async () => {
    const a = await registered(server.wsUrl);
    expect(a.auth.heartbeatIntervalMs).toBe(INTERVAL);
    expect(a.auth.heartbeatTimeoutMs).toBe(TIMEOUT);
    a.client.close();
  });

  it("a silent client is closed with 4000 and the members that remain see it LEFT; a pinging client stays", async () => {
    const a = await registered(server.wsUrl);
    const stopA = keepAlive(a.client, INTERVAL);
    const { room } = await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    const b = await registered(server.wsUrl);
    const silentSince = Date.now();
    await b.client.call({ case: "joinRoom", value: { code: room!.code } }, "roomJoined");

    expect(await b.client.waitClose(3000)).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    expect(Date.now() - silentSince).toBeGreaterThanOrEqual(TIMEOUT - 50);
    const left = await a.client.push("presence", (p) => p.change === PresenceChange.LEFT);
    expect(left).toMatchObject({ roomCode: room!.code, username: b.username, memberCount: 1 });

    // A has been connected well past the timeout, kept alive by its Pings alone.
    await sleep(TIMEOUT * 2 - (Date.now() - silentSince) + 100);
    expect(a.client.closeCode).toBeUndefined();
    await a.client.call({ case: "listRooms", value: {} }, "roomList");
    stopA();
    a.client.close();
  });

  it("any frame counts as liveness, not only Ping", async () => {
    const a = await registered(server.wsUrl);
    const timer = setInterval(() => a.client.send({ case: "listRooms", value: {} }), INTERVAL);
    await sleep(TIMEOUT * 2);
    clearInterval(timer);
    expect(a.client.closeCode).toBeUndefined();
    expect(await a.client.waitClose(3000)).toBe(CloseCode.HEARTBEAT_TIMEOUT);
  });
});

describe("graceful shutdown in process", () => {
  it("close() sends 1001 to every client promptly, authenticated or not, and refuses new upgrades", async () => {
    const server = await startServer();
    const a = await registered(server.wsUrl);
    const { room } = await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    const b = await registered(server.wsUrl);
    await b.client.call({ case: "joinRoom", value: { code: room!.code } }, "roomJoined");
    const pending = await WireClient.open(server.wsUrl);
    expect((await health(server.httpUrl)).body.connections).toBe(3);

    const started = Date.now();
    const closing = server.close();
    const codes = await Promise.all([a.client.waitClose(), b.client.waitClose(), pending.waitClose()]);
    expect(codes).toEqual([CloseCode.GOING_AWAY, CloseCode.GOING_AWAY, CloseCode.GOING_AWAY]);
    await closing;
    // Well within the shutdown grace (500 ms in tests): nobody waited for it to run out.
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(WireClient.open(server.wsUrl)).rejects.toThrow();
  });

  it("while a client is slow to go, upgrades and /healthz answer 503 until the grace period ends", async () => {
    const server = await startServer({ shutdownGraceMs: 800 });
    const a = await registered(server.wsUrl);
    // A client that does not read never answers the close frame: the server waits the grace period for it.
    a.client.ws.pause();
    const started = Date.now();
    const closing = server.close();
    await sleep(100);
    const during = await health(server.httpUrl);
    expect(during).toEqual({ status: 503, body: { status: "shutting-down", connections: 1 } });
    await expect(WireClient.open(server.wsUrl)).rejects.toThrow("HTTP 503");
    await closing;
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    a.client.ws.resume();
    expect(await a.client.waitClose()).toBe(CloseCode.GOING_AWAY);
  });

  it("a server with no clients closes at once", async () => {
    const server = await startServer();
    const c = await registered(server.wsUrl);
    c.client.close();
    await connectionsSettle(server.httpUrl, 0);
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(500);
  });
});
