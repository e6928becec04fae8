// Reconnects against the real server: a server restart (close 1001) with resume, rejoin and queued
// requests; recovery of messages missed while offline (in order, once) also while live messages keep
// coming; "not recovered" beyond the server's recover limit; resend with the same client message id when
// the ack is lost; requests in flight at a drop; revoked sessions; backoff growth.
import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../../../server/src/testing.ts";
import { WireClient } from "../../../server/test/wire-client.ts";
import { type ChatClientOptions, ChatClient, ChatError, type ChatMessage, CloseCode, ErrorCode } from "./index.ts";
import { controlledWebSocket, PASSWORD, record, sleep, uniqueName, until } from "./test-support.ts";

/** Array.prototype.sort's default order (UTF-16 code units), spelled out. */
const byCodeUnits = (a: string | null | undefined, b: string | null | undefined): number =>
  (a ?? "") < (b ?? "") ? -1 : (a ?? "") > (b ?? "") ? 1 : 0;

const servers: TestServer[] = [];
const clients: ChatClient[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
  for (const f of cleanups.splice(0)) f();
});

const serve = async (overrides: Parameters<typeof startServer>[0] = {}) => {
  const s = await startServer({ heartbeatIntervalMs: 200, registerPerIpPerMin: 1000, loginPerIpPerMin: 1000, ...overrides });
  servers.push(s);
  return s;
};
const client = (url: string, extra: Partial<ChatClientOptions> = {}) => {
  const c = new ChatClient({ url, reconnect: { initialMs: 20, maxMs: 150 }, ...extra });
  clients.push(c);
  return c;
};
const registered = async (url: string, extra: Partial<ChatClientOptions> = {}) => {
  const c = client(url, extra);
  await c.register(uniqueName("r"), PASSWORD);
  return c;
};
/** The seqs a client emitted for a room, in emission order. */
const seqsOf = (messages: ChatMessage[], code: string) => messages.filter((m) => m.roomCode === code).map((m) => Number(m.seq));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("server restart", () => {
  it("reconnects after the server drops the socket (1001), resumes, rejoins, and sends what was queued", async () => {
    const first = await serve();
    const alice = await registered(first.wsUrl);
    const bob = await registered(first.wsUrl);
    const code = (await alice.createRoom("restart", true)).room!.code;
    await bob.joinRoom(code);
    await alice.send(code, "before").acked;
    await until(() => bob.lastSeq(code) === 1n, "bob has seq 1");
    const aliceEvents = record(alice);
    const bobEvents = record(bob);

    await first.close({ keepData: true }); // graceful: every socket gets 1001
    cleanups.push(() => rmSync(first.dataDir, { recursive: true, force: true }));
    await until(() => aliceEvents.of("closed").length > 0, "alice sees the close");
    expect(aliceEvents.of("closed")[0]).toMatchObject({ code: CloseCode.GOING_AWAY, willReconnect: true });
    expect(alice.state).toBe("connecting");
    // While the server is down: a send and a history request wait for the connection.
    const queued = alice.send(code, "while down");
    const historyWhileDown = alice.history(code);
    await sleep(100);

    await serve({ port: first.port, dataDir: first.dataDir });
    const ack = await queued.acked;
    expect(ack.seq).toBe(2n);
    expect((await historyWhileDown).messages.map((m) => m.text)).toContain("before");
    await until(() => bob.state === "connected" && bobEvents.of("message").length === 1, "bob gets the queued message");
    expect(bobEvents.of("message")[0]).toMatchObject({ seq: 2n, text: "while down" });
    expect(alice.members(code)).toEqual([alice.username, bob.username].sort(byCodeUnits));

    const states = aliceEvents.of("state");
    expect(states[0]).toMatchObject({ state: "connecting", attempt: 1, closeCode: 1001 });
    expect(states.at(-1)).toMatchObject({ state: "connected", attempt: 0 });
    expect(states.every((s) => s.state !== "disconnected")).toBe(true);
    expect(aliceEvents.of("authenticated")).toHaveLength(1);
    expect(aliceEvents.of("recovered")).toEqual([{ roomCode: code, count: 0 }]);
  });

  it("backs off exponentially with jitter between failed attempts, within the configured cap", async () => {
    const s = await serve();
    const c = await registered(s.wsUrl, { reconnect: { initialMs: 10, maxMs: 80 }, random: () => 1 });
    const events = record(c);
    await s.close();
    await until(() => events.of("state").filter((e) => e.state === "connecting").length >= 6, "six attempts", 3000);
    const delays = events
      .of("state")
      .filter((e) => e.state === "connecting")
      .map((e) => e.nextRetryMs);
    expect(delays.slice(0, 6)).toEqual([10, 20, 40, 80, 80, 80]);
    const attempts = events
      .of("state")
      .filter((e) => e.state === "connecting")
      .map((e) => e.attempt);
    expect(attempts.slice(0, 6)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(
      events
        .of("closed")
        .slice(1)
        .every((e) => e.code === 1006 && e.willReconnect),
    ).toBe(true);
    // With random() = 0 the jitter can make the wait zero; the cap still holds above.
    const zero = await (async () => {
      const s2 = await serve();
      const z = await registered(s2.wsUrl, { random: () => 0 });
      const zEvents = record(z);
      await s2.close();
      await until(() => zEvents.of("state").length >= 3, "attempts");
      return zEvents
        .of("state")
        .filter((e) => e.state === "connecting")
        .map((e) => e.nextRetryMs);
    })();
    expect(zero.every((d) => d === 0)).toBe(true);
  });
});

/** Alice's room with bob in it on a socket the test can cut; bob has seen seq 1 and is recorded from then on. */
const bobHasSeenOne = async (s: TestServer, roomName: string) => {
  const alice = await registered(s.wsUrl);
  const { ctl, WebSocket } = controlledWebSocket();
  const bob = await registered(s.wsUrl, { WebSocket });
  const code = (await alice.createRoom(roomName)).room!.code;
  await bob.joinRoom(code);
  await alice.send(code, "seen").acked;
  await until(() => bob.lastSeq(code) === 1n, "bob has seq 1");
  return { alice, bob, ctl, code, bobEvents: record(bob) };
};

describe("recovery", () => {
  it("emits the messages sent while offline, in order and exactly once, then `recovered`", async () => {
    const { alice, bob, ctl, code, bobEvents } = await bobHasSeenOne(await serve(), "offline");

    ctl.offline = true;
    ctl.cut();
    await until(() => bobEvents.of("closed").length >= 2, "bob failing to reconnect");
    for (let i = 2; i <= 6; i++) await alice.send(code, `missed ${i}`).acked;
    ctl.offline = false;

    await until(() => bobEvents.of("recovered").length === 1, "recovered");
    expect(bobEvents.of("recovered")[0]).toEqual({ roomCode: code, count: 5 });
    expect(seqsOf(bobEvents.of("message"), code)).toEqual(range(2, 6));
    expect(bobEvents.of("message").map((m) => m.text)).toEqual(range(2, 6).map((i) => `missed ${i}`));
    await alice.send(code, "live").acked;
    await until(() => bob.lastSeq(code) === 7n, "live after recovery");
    expect(seqsOf(bobEvents.of("message"), code)).toEqual(range(2, 7));
  });

  it("live messages arriving during the recovery are neither lost, duplicated nor reordered", async () => {
    const s = await serve({ rateLimitPerSec: 1000, rateLimitBurst: 1000 });
    const alice = await registered(s.wsUrl, { rateLimit: { perSec: 1000, burst: 1000 } });
    const { ctl, WebSocket } = controlledWebSocket();
    const bob = await registered(s.wsUrl, { WebSocket });
    const codes = [(await alice.createRoom("one")).room!.code, (await alice.createRoom("two")).room!.code];
    for (const code of codes) await bob.joinRoom(code);
    const bobEvents = record(bob);

    ctl.offline = true;
    ctl.cut();
    await until(() => bobEvents.of("closed").length >= 1, "bob offline");
    for (const code of codes) for (let i = 0; i < 10; i++) await alice.send(code, `offline ${i}`).acked;
    // Keep both rooms busy while bob comes back, so pushes race with the rejoin and the replay.
    let sending = true;
    const sender = (async () => {
      let n = 0;
      while (sending && n < 400) {
        await Promise.all(codes.map((code) => alice.send(code, `live ${n}`).acked));
        n++;
      }
    })();
    await sleep(30);
    ctl.offline = false;
    await until(() => bobEvents.of("recovered").length === 2, "both rooms recovered");
    await sleep(100);
    sending = false;
    await sender;
    for (const code of codes) {
      const last = Number(alice.lastSeq(code));
      await until(() => bob.lastSeq(code) === BigInt(last), `bob catches up in ${code}`);
      expect(seqsOf(bobEvents.of("message"), code)).toEqual(range(1, last));
      expect(last).toBeGreaterThan(12);
    }
    expect(bobEvents.of("notRecovered")).toEqual([]);
  });

  it("says `notRecovered` when more was missed than the server replays, then continues live", async () => {
    const { alice, bob, ctl, code, bobEvents } = await bobHasSeenOne(await serve({ recoverLimit: 3 }), "limit");

    ctl.offline = true;
    ctl.cut();
    await until(() => bobEvents.of("closed").length >= 1, "bob offline");
    for (let i = 0; i < 5; i++) await alice.send(code, `missed ${i}`).acked;
    ctl.offline = false;

    await until(() => bobEvents.of("notRecovered").length === 1, "notRecovered");
    expect(bobEvents.of("notRecovered")[0]).toEqual({ roomCode: code, lastSeq: 1n });
    expect(bobEvents.of("recovered")).toEqual([]);
    expect(bobEvents.of("message")).toEqual([]); // never a partial replay
    expect(bob.lastSeq(code)).toBe(6n);
    // The app reloads history; live messages continue from the room's newest seq.
    expect((await bob.history(code)).messages.map((m) => Number(m.seq))).toEqual(range(1, 6));
    await alice.send(code, "after").acked;
    await until(() => bobEvents.of("message").length === 1, "live message");
    expect(bobEvents.of("message")[0]).toMatchObject({ seq: 7n, text: "after" });
  });
});

describe("sending across drops", () => {
  it("resends with the same client message id when the ack is lost; the server stores it once", async () => {
    const s = await serve();
    const { ctl, WebSocket } = controlledWebSocket();
    const alice = await registered(s.wsUrl, { WebSocket });
    const bob = await registered(s.wsUrl);
    const code = (await alice.createRoom("once")).room!.code;
    await bob.joinRoom(code);
    const bobEvents = record(bob);
    const aliceEvents = record(alice);
    const sentFrames: string[] = [];
    ctl.loseOutgoing = (f) => {
      if (f.kind.case === "sendMessage") sentFrames.push(f.kind.value.clientMessageId);
      return false;
    };
    let lose = true;
    ctl.loseIncoming = (f) => {
      if (lose && f.kind.case === "sendAck") {
        lose = false;
        return true; // the message was stored and pushed, but its ack never arrives
      }
      return false;
    };

    const pending = alice.send(code, "exactly once");
    const ack = await pending.acked;
    expect(ctl.lost).toBe(1);
    expect(ack.duplicate).toBe(true); // the answer to the resend: the original seq
    expect(ack.seq).toBe(1n);
    expect(ack.clientMessageId).toBe(pending.clientMessageId);
    expect(sentFrames).toEqual([pending.clientMessageId, pending.clientMessageId]);
    expect(aliceEvents.of("closed")[0]).toMatchObject({ willReconnect: true });

    const history = await alice.history(code);
    expect(history.messages.map((m) => [m.seq, m.text, m.clientMessageId])).toEqual([[1n, "exactly once", pending.clientMessageId]]);
    await alice.send(code, "next").acked;
    await until(() => bobEvents.of("message").length === 2, "bob's messages");
    expect(bobEvents.of("message").map((m) => m.seq)).toEqual([1n, 2n]);
  });

  it("a direct message whose ack is lost is resent and stored once", async () => {
    const s = await serve();
    const { ctl, WebSocket } = controlledWebSocket();
    const alice = await registered(s.wsUrl, { WebSocket });
    const bob = await registered(s.wsUrl);
    let lose = true;
    ctl.loseIncoming = (f) => lose && f.kind.case === "directAck" && !(lose = false);
    const ack = await alice.sendDirect(bob.username!, "dm once").acked;
    expect(ctl.lost).toBe(1);
    expect(ack.duplicate).toBe(true);
    expect((await bob.directHistory(alice.username!)).messages.map((m) => m.text)).toEqual(["dm once"]);
  });

  it("in flight at a drop: idempotent requests are retried, others fail with the close code", async () => {
    const s = await serve();
    const { ctl, WebSocket } = controlledWebSocket();
    const c = await registered(s.wsUrl, { WebSocket });
    ctl.loseOutgoing = (f) => f.kind.case === "createRoom";
    const created = await c.createRoom("lost").catch((e: unknown) => e);
    expect(created).toBeInstanceOf(ChatError);
    expect((created as ChatError).closeCode).toBe(3001);
    await until(() => c.state === "connected", "reconnected");
    let dropList = true;
    ctl.loseOutgoing = (f) => f.kind.case === "listRooms" && dropList && !(dropList = false);
    const rooms = await c.listRooms();
    expect(ctl.lost).toBe(2);
    expect(Array.isArray(rooms)).toBe(true);
    expect(c.state).toBe("connected");
  });
});

describe("close codes that stop", () => {
  it("4104 (session revoked elsewhere): error event, disconnected, token forgotten, no reconnect", async () => {
    const s = await serve();
    const c = await registered(s.wsUrl);
    const events = record(c);
    const other = await WireClient.open(s.wsUrl, { token: c.token! });
    await other.waitFor((f) => f.kind.case === "authOk");
    await other.request({ case: "logout", value: {} });
    await until(() => c.state === "disconnected", "disconnected");
    expect(events.of("closed")).toEqual([{ code: CloseCode.SESSION_REVOKED, reason: expect.any(String), willReconnect: false }]);
    expect(events.of("error").map((e) => e.closeCode)).toEqual([CloseCode.SESSION_REVOKED]);
    expect(c.token).toBeUndefined();
    await sleep(300);
    expect(events.of("state").map((e) => e.state)).toEqual(["disconnected"]);
    await expect(c.listRooms()).rejects.toBeInstanceOf(ChatError);
    // Logging in again with the password works on the same client.
    await c.login(c.username!, PASSWORD);
    expect(c.state).toBe("connected");
  });

  it("when the session ends, every request still waiting for a connection is rejected: none is left pending", async () => {
    const s = await serve();
    const { ctl, WebSocket } = controlledWebSocket();
    const c = await registered(s.wsUrl, { WebSocket });
    const code = (await c.createRoom("waiting")).room!.code;
    const events = record(c);
    ctl.offline = true;
    ctl.cut();
    await until(() => events.of("closed").length >= 1, "offline");
    const waiting: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) waiting.push(c.send(code, `queued ${i}`).acked, c.history(code));
    c.close();
    const settled = await Promise.race([Promise.allSettled(waiting), sleep(2000).then(() => "some never settled" as const)]);
    expect(settled).not.toBe("some never settled");
    expect((settled as PromiseSettledResult<unknown>[]).map((r) => r.status)).toEqual(waiting.map(() => "rejected"));
  });

  it("a session revoked while offline: the resume is refused, no reconnect loop", async () => {
    const s = await serve();
    const { ctl, WebSocket } = controlledWebSocket();
    const c = await registered(s.wsUrl, { WebSocket });
    const events = record(c);
    ctl.offline = true;
    ctl.cut();
    await until(() => events.of("closed").length >= 1, "offline");
    const other = await WireClient.open(s.wsUrl, { token: c.token! });
    await other.waitFor((f) => f.kind.case === "authOk");
    await other.request({ case: "logout", value: {} });
    const pending = c.send("K7QX2M", "never");
    ctl.offline = false;
    await until(() => c.state === "disconnected", "gave up");
    expect(events.of("error").at(-1)?.code).toBe(ErrorCode.UNAUTHENTICATED);
    await expect(pending.acked).rejects.toBeInstanceOf(ChatError);
    const sockets = ctl.sockets.length;
    await sleep(300);
    expect(ctl.sockets.length).toBe(sockets);
  });
});
