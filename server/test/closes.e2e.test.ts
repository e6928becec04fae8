// Server-initiated closes over real sockets: each is counted once in chat_closes_total, and a frozen client
// (it neither reads nor writes, as under SIGSTOP) leaves its rooms and presence when its heartbeat timeout
// fires, not a second timeout later when its unanswered close is given up on.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CloseCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { PresenceChange } from "../../proto/gen/es/chat/v1/presence_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { connectionsSettle, health, keepAlive } from "./helpers.ts";
import { registered, WireClient } from "./wire-client.ts";

/** One sample's value from /metrics (0 when absent). */
const metric = async (httpUrl: string, sample: string): Promise<number> => {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
};
const closes = (server: TestServer, code: number) => metric(server.httpUrl, `chat_closes_total{code="${code}"}`);

describe("chat_closes_total", () => {
  const INTERVAL = 100;
  const TIMEOUT = 400;
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ heartbeatIntervalMs: INTERVAL, heartbeatTimeoutMs: TIMEOUT });
  });
  afterAll(() => server.close());

  it("counts each server-initiated close once, whether a reply went before it or not", async () => {
    // 4101: an error reply, then the close.
    for (let i = 0; i < 3; i++) {
      const c = await WireClient.open(server.wsUrl);
      c.send({ case: "listRooms", value: {} });
      expect(await c.waitClose()).toBe(CloseCode.NOT_AUTHENTICATED);
    }
    // 1003: a close with nothing before it.
    const text = await WireClient.open(server.wsUrl);
    text.sendRaw("hello");
    expect(await text.waitClose()).toBe(CloseCode.UNSUPPORTED_DATA);
    // 4000: a silent authenticated client.
    const silent = await registered(server.wsUrl);
    expect(await silent.client.waitClose()).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    await connectionsSettle(server.httpUrl, 0);

    expect(await closes(server, CloseCode.NOT_AUTHENTICATED)).toBe(3);
    expect(await closes(server, CloseCode.UNSUPPORTED_DATA)).toBe(1);
    expect(await closes(server, CloseCode.HEARTBEAT_TIMEOUT)).toBe(1);
  });

  it("does not count a close the client started", async () => {
    const before = await metric(server.httpUrl, 'chat_closes_total{code="1000"}');
    const a = await registered(server.wsUrl);
    a.client.close();
    await connectionsSettle(server.httpUrl, 0);
    expect(await metric(server.httpUrl, 'chat_closes_total{code="1000"}')).toBe(before);
  });
});

describe("a frozen client", () => {
  const INTERVAL = 250;
  const TIMEOUT = 1000;
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ heartbeatIntervalMs: INTERVAL, heartbeatTimeoutMs: TIMEOUT });
  });
  afterAll(() => server.close());

  it("leaves its rooms and global presence when the heartbeat timeout fires, and still gets the 4000 close frame", async () => {
    const a = await registered(server.wsUrl);
    const stopA = keepAlive(a.client, INTERVAL);
    const { room } = await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    await a.client.call({ case: "onlineUsers", value: { subscribe: true } }, "onlineUsers");
    const b = await registered(server.wsUrl);
    await b.client.call({ case: "joinRoom", value: { code: room!.code } }, "roomJoined");
    await a.client.push("presence", (p) => p.username === b.username && p.change === PresenceChange.JOINED);

    // Frozen: B sends nothing more and stops reading its socket, so the server's close frame goes unanswered.
    b.client.ws.pause();
    const frozenAt = Date.now();
    const left = await a.client.push("presence", (p) => p.username === b.username && p.change === PresenceChange.LEFT, TIMEOUT * 4);
    const leftAfter = Date.now() - frozenAt;
    // At this moment the server still holds B's socket, waiting for the close handshake: B left before it.
    expect((await health(server.httpUrl)).body.connections).toBe(2);
    expect(left).toMatchObject({ roomCode: room!.code, memberCount: 1 });
    await a.client.push("userPresence", (p) => p.username === b.username && !p.online, 1000);
    const online = await a.client.call({ case: "onlineUsers", value: {} }, "onlineUsers");
    expect(online.usernames).not.toContain(b.username);
    // Timing loosely: at the timeout, well before the second timeout when the socket is cut.
    expect(leftAfter).toBeGreaterThanOrEqual(TIMEOUT - 50);
    expect(leftAfter).toBeLessThan(2 * TIMEOUT);

    // The close frame was still sent: B reads it once it thaws.
    b.client.ws.resume();
    expect(await b.client.waitClose()).toBe(CloseCode.HEARTBEAT_TIMEOUT);
    await connectionsSettle(server.httpUrl, 1);
    // A was told once: no second LEFT or offline push when the socket finally closed.
    const leftAgain = a.client.frames.filter(
      (f) =>
        (f.kind.case === "presence" && f.kind.value.username === b.username && f.kind.value.change === PresenceChange.LEFT) ||
        (f.kind.case === "userPresence" && f.kind.value.username === b.username && !f.kind.value.online),
    );
    expect(leftAgain).toEqual([]);
    stopA();
    a.client.close();
  });
});
