// The server's limits over real sockets: text and oversized messages, malformed and unknown frames, id 0,
// the violation budget (4102), the per-connection rate limit (RATE_LIMITED, then 4103), a slow consumer
// (4001) not slowing the others, Origin checks (403), connection caps (503), /healthz and /metrics.
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode, ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { connectionsSettle, errorCode, health, keepAlive } from "./helpers.ts";
import { registered, WireClient } from "./wire-client.ts";

/** A varint, for hand-built protobuf bytes. */
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
};
/** A Ping ClientFrame with id `id`, padded to exactly `size` bytes with an unknown length-delimited field (decoders skip it). */
const paddedPing = (id: number, size: number): Uint8Array => {
  const head = [...toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, kind: { case: "ping", value: {} } }))];
  const tag = varint((1000 << 3) | 2);
  for (let pad = size - head.length - tag.length - 1; pad >= 0; pad--) {
    const len = varint(pad);
    if (head.length + tag.length + len.length + pad === size)
      return new Uint8Array([...head, ...tag, ...len, ...new Array<number>(pad).fill(0x61)]);
  }
  throw new Error("cannot pad");
};
const frameBytes = (init: Parameters<typeof create<typeof ClientFrameSchema>>[1]) =>
  toBinary(ClientFrameSchema, create(ClientFrameSchema, init));
const MALFORMED = new Uint8Array([0x08, 0xff]); // a truncated varint

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ registerPerIpPerMin: 1000, loginPerIpPerMin: 1000 });
});
afterAll(() => server.close());

describe("frames", () => {
  it("a text message closes the connection with 1003, before auth as after", async () => {
    const fresh = await WireClient.open(server.wsUrl);
    fresh.sendRaw("hello");
    expect(await fresh.waitClose()).toBe(CloseCode.UNSUPPORTED_DATA);
    const a = await registered(server.wsUrl);
    a.client.sendRaw('{"json":true}');
    expect(await a.client.waitClose()).toBe(CloseCode.UNSUPPORTED_DATA);
    expect(a.client.frames).toEqual([]);
  });

  it("a message of 64 KiB is accepted; one byte more closes with 1009", async () => {
    const a = await registered(server.wsUrl);
    a.client.sendRaw(paddedPing(77, 65536));
    expect((await a.client.waitFor((f) => f.id === 77)).kind.case).toBe("pong");
    a.client.sendRaw(paddedPing(78, 65537));
    expect(await a.client.waitClose()).toBe(CloseCode.MESSAGE_TOO_BIG);
  });

  it("undecodable bytes get MALFORMED_FRAME with id 0 and the connection stays usable, before auth too", async () => {
    const fresh = await WireClient.open(server.wsUrl);
    fresh.sendRaw(MALFORMED);
    const reply = await fresh.waitFor((f) => f.kind.case === "error");
    expect(reply.id).toBe(0);
    expect(errorCode(reply)).toBe(ErrorCode.MALFORMED_FRAME);
    await fresh.call({ case: "register", value: { username: `m${Date.now()}`, password: "correct horse battery" } }, "authOk");
    fresh.sendRaw(new Uint8Array([0x07]));
    expect(errorCode(await fresh.waitFor((f) => f.kind.case === "error"))).toBe(ErrorCode.MALFORMED_FRAME);
    await fresh.call({ case: "listRooms", value: {} }, "roomList");
    fresh.close();
  });

  it("no kind, or a kind this server does not know, is UNKNOWN_FRAME with the frame's id", async () => {
    const a = await registered(server.wsUrl);
    a.client.sendRaw(frameBytes({ id: 8 }));
    const empty = await a.client.waitFor((f) => f.id === 8);
    expect(errorCode(empty)).toBe(ErrorCode.UNKNOWN_FRAME);
    // Field 999 (varint) is not in chat.v1: a newer client's request kind.
    a.client.sendRaw(new Uint8Array([...frameBytes({ id: 9 }), ...varint(999 << 3), 1]));
    expect(errorCode(await a.client.waitFor((f) => f.id === 9))).toBe(ErrorCode.UNKNOWN_FRAME);
    await a.client.call({ case: "ping", value: {} }, "pong");
    a.client.close();
  });

  it("a request with id 0 gets INVALID_ARGUMENT with id 0 and is not executed", async () => {
    const a = await registered(server.wsUrl);
    a.client.send({ case: "ping", value: { nonce: 5n } }, 0);
    const reply = await a.client.waitFor((f) => f.kind.case === "error" || f.kind.case === "pong");
    expect(reply.id).toBe(0);
    expect(errorCode(reply)).toBe(ErrorCode.INVALID_ARGUMENT);
    const { room } = await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    a.client.send({ case: "sendMessage", value: { roomCode: room!.code, clientMessageId: "zero", text: "id zero" } }, 0);
    expect(errorCode(await a.client.waitFor((f) => f.kind.case === "error"))).toBe(ErrorCode.INVALID_ARGUMENT);
    const page = await a.client.call({ case: "history", value: { roomCode: room!.code } }, "historyPage");
    expect(page.messages).toEqual([]);
    a.client.close();
  });

  it("the 5th violation (malformed, unknown, id 0 alike) is answered and then closed with 4102; field errors do not count", async () => {
    const a = await registered(server.wsUrl);
    const { room } = await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    // Bad fields are not protocol violations, however many.
    for (let i = 0; i < 6; i++) {
      expect(
        errorCode(await a.client.request({ case: "sendMessage", value: { roomCode: room!.code, clientMessageId: `e${i}`, text: "" } })),
      ).toBe(ErrorCode.INVALID_ARGUMENT);
    }
    a.client.sendRaw(MALFORMED);
    a.client.sendRaw(frameBytes({ id: 21 }));
    a.client.send({ case: "ping", value: {} }, 0);
    a.client.sendRaw(MALFORMED);
    await a.client.call({ case: "ping", value: {} }, "pong");
    expect(a.client.closeCode).toBeUndefined();
    a.client.sendRaw(frameBytes({ id: 22 }));
    expect(await a.client.waitClose()).toBe(CloseCode.PROTOCOL_VIOLATION);
    // Every violation got its reply before the close.
    const errors = a.client.frames.filter((f) => f.kind.case === "error").map((f) => [f.id, errorCode(f)]);
    expect(errors).toEqual([
      [0, ErrorCode.MALFORMED_FRAME],
      [21, ErrorCode.UNKNOWN_FRAME],
      [0, ErrorCode.INVALID_ARGUMENT],
      [0, ErrorCode.MALFORMED_FRAME],
      [22, ErrorCode.UNKNOWN_FRAME],
    ]);
  });
});

describe("rate limit", () => {
  const RATE = 2;
  const BURST = 5;
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ rateLimitPerSec: RATE, rateLimitBurst: BURST });
  });
  afterAll(() => limited.close());

  const tokenClient = async () => {
    const owner = await registered(limited.wsUrl);
    owner.client.close();
    const c = await WireClient.open(limited.wsUrl, { token: owner.auth.sessionToken });
    await c.push("authOk");
    return c;
  };

  it("a frame beyond the burst gets RATE_LIMITED with retry_after_ms and is not executed; after the wait it works", async () => {
    const c = await tokenClient();
    const { room } = await c.call({ case: "createRoom", value: {} }, "roomJoined");
    for (let i = 0; i < BURST - 1; i++) c.send({ case: "ping", value: {} });
    const over = await c.request({ case: "sendMessage", value: { roomCode: room!.code, clientMessageId: "over", text: "over the limit" } });
    expect(errorCode(over)).toBe(ErrorCode.RATE_LIMITED);
    const retryAfter = over.kind.case === "error" ? over.kind.value.retryAfterMs : 0;
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(1000 / RATE);
    await new Promise((r) => setTimeout(r, retryAfter + 20));
    const page = await c.call({ case: "history", value: { roomCode: room!.code } }, "historyPage");
    expect(page.messages).toEqual([]);
    expect(c.closeCode).toBeUndefined();
    c.close();
  });

  it("a connection that keeps sending while limited gets more than `burst` RATE_LIMITED replies, then close 4103", async () => {
    const c = await tokenClient();
    const ids = Array.from({ length: 2 * BURST + 1 + 3 }, () => c.send({ case: "ping", value: {} }));
    expect(await c.waitClose()).toBe(CloseCode.RATE_LIMITED);
    const byId = new Map(c.frames.map((f) => [f.id, f.kind.case === "error" ? `error ${f.kind.value.code}` : f.kind.case]));
    expect(ids.map((id) => byId.get(id))).toEqual([
      ...Array<string>(BURST).fill("pong"),
      ...Array<string>(BURST + 1).fill(`error ${ErrorCode.RATE_LIMITED}`),
      // Frames after the close decision are dropped unanswered.
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe("slow consumer", () => {
  it("a member that stops reading is closed with 4001; the others get every message promptly, in order", async () => {
    const slowServer = await startServer({ outboxFrames: 8, rateLimitPerSec: 100_000, rateLimitBurst: 100_000 });
    try {
      const sender = await registered(slowServer.wsUrl);
      const reader = await registered(slowServer.wsUrl);
      const slow = await registered(slowServer.wsUrl);
      const code = (await sender.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
      await reader.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
      await slow.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
      slow.client.ws.pause();

      const text = "x".repeat(4000);
      // When each message reached the healthy reader (the WireClient's own listener has just buffered it).
      const arrivedAt = new Map<bigint, number>();
      reader.client.ws.on("message", () => {
        const f = reader.client.frames.at(-1);
        if (f?.kind.case === "message") arrivedAt.set(f.kind.value.seq, Date.now());
      });
      const acks: Array<{ seq: bigint; at: number }> = [];
      const closes4001 = async () => (await metricValue(slowServer.httpUrl, 'chat_closes_total{code="4001"}')) >= 1;
      let sent = 0;
      // Send until the server has given up on the slow member (bounded: at most 4000 messages of 4 KB).
      while (!(await closes4001())) {
        expect(sent).toBeLessThan(4000);
        const batch = await Promise.all(
          Array.from({ length: 100 }, () => {
            const id = `s${sent++}`;
            return sender.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: id, text } }, "sendAck", 10_000);
          }),
        );
        const now = Date.now();
        for (const ack of batch) acks.push({ seq: ack.seq, at: now });
      }
      // A few more after the close: the healthy member keeps getting them.
      for (let i = 0; i < 20; i++) {
        const ack = await sender.client.call(
          { case: "sendMessage", value: { roomCode: code, clientMessageId: `after${i}`, text } },
          "sendAck",
        );
        acks.push({ seq: ack.seq, at: Date.now() });
      }
      const lastSeq = acks.at(-1)!.seq;
      const seen: bigint[] = [];
      for (;;) {
        const m = await reader.client.push("message", () => true, 5000);
        seen.push(m.seq);
        if (m.seq === lastSeq) break;
      }
      expect(seen).toEqual(acks.map((a) => a.seq).sort((x, y) => Number(x - y)));
      expect(seen).toEqual(seen.map((_, i) => BigInt(i + 1)));
      // Promptly: the reader had each message within a second of its ack, never waiting on the slow member.
      const lateness = Math.max(...acks.map((a) => arrivedAt.get(a.seq)! - a.at));
      expect(lateness).toBeLessThan(1000);

      // The slow member, once it reads again, finds a contiguous prefix of the messages and then the 4001.
      slow.client.ws.resume();
      expect(await slow.client.waitClose(10_000)).toBe(CloseCode.SLOW_CONSUMER);
      const slowSeqs = slow.client.frames
        .filter((f) => f.kind.case === "message")
        .map((f) => (f.kind.case === "message" ? f.kind.value.seq : 0n));
      expect(slowSeqs.length).toBeGreaterThan(0);
      expect(slowSeqs.length).toBeLessThan(seen.length);
      expect(slowSeqs).toEqual(slowSeqs.map((_, i) => BigInt(i + 1)));
      // It left the room: the others saw it go.
      await sender.client.push("presence", (p) => p.username === slow.username);
      console.log(
        `slow consumer closed after ${sent} messages of 4 KB; it had received ${slowSeqs.length}; reader lateness ${lateness} ms`,
      );
      sender.client.close();
      reader.client.close();
    } finally {
      await slowServer.close();
    }
  });
});

describe("slow consumer that never reads again", () => {
  it("is dropped from the room within the heartbeat timeout of its 4001, not after the close handshake's 30 s", async () => {
    const TIMEOUT = 600;
    const slowServer = await startServer({
      outboxFrames: 8,
      rateLimitPerSec: 100_000,
      rateLimitBurst: 100_000,
      heartbeatIntervalMs: 200,
      heartbeatTimeoutMs: TIMEOUT,
    });
    try {
      const sender = await registered(slowServer.wsUrl);
      const slow = await registered(slowServer.wsUrl);
      const stop = keepAlive(sender.client, 100);
      // The slow member still sends (its Pings keep it clear of the heartbeat timeout); it only stops reading.
      const stopSlow = keepAlive(slow.client, 100);
      const code = (await sender.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
      await slow.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
      await sender.client.push("presence");
      slow.client.ws.pause();
      const text = "y".repeat(4000);
      let sent = 0;
      while ((await metricValue(slowServer.httpUrl, 'chat_closes_total{code="4001"}')) < 1) {
        expect(sent).toBeLessThan(4000);
        await Promise.all(
          Array.from({ length: 100 }, () =>
            sender.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: `s${sent++}`, text } }, "sendAck", 10_000),
          ),
        );
      }
      const closedAt = Date.now();
      const left = await sender.client.push("presence", (p) => p.username === slow.username, 5000);
      expect(left.memberCount).toBe(1);
      expect(Date.now() - closedAt).toBeLessThan(TIMEOUT + 1000);
      await connectionsSettle(slowServer.httpUrl, 1);
      stop();
      stopSlow();
      sender.client.close();
      slow.client.ws.terminate();
    } finally {
      await slowServer.close();
    }
  });
});

/** Reads one sample's value from /metrics (0 when absent). */
const metricValue = async (httpUrl: string, sample: string): Promise<number> => {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
};

describe("HTTP", () => {
  it("a browser Origin not on the allowlist gets 403; listed, same-origin and no Origin are accepted", async () => {
    const guarded = await startServer({ allowedOrigins: ["https://chat.example"] });
    try {
      await expect(WireClient.open(guarded.wsUrl, { origin: "https://evil.example" })).rejects.toThrow("HTTP 403");
      await expect(WireClient.open(guarded.wsUrl, { origin: "null" })).rejects.toThrow("HTTP 403");
      for (const origin of ["https://chat.example", guarded.httpUrl, undefined]) {
        const c = await WireClient.open(guarded.wsUrl, origin === undefined ? {} : { origin });
        await c.call({ case: "ping", value: {} }, "pong");
        c.close();
      }
    } finally {
      await guarded.close();
    }
  });

  it("beyond maxUnauthenticated or maxConnections the upgrade gets 503", async () => {
    const capped = await startServer({ maxConnections: 3, maxUnauthenticated: 2 });
    try {
      const u1 = await WireClient.open(capped.wsUrl);
      const u2 = await WireClient.open(capped.wsUrl);
      await expect(WireClient.open(capped.wsUrl)).rejects.toThrow("HTTP 503");
      // Authenticating one frees an unauthenticated slot.
      const auth = await u1.call(
        { case: "register", value: { username: `cap${Date.now()}`, password: "correct horse battery" } },
        "authOk",
      );
      const u3 = await WireClient.open(capped.wsUrl);
      // Three open: even a valid token is refused now.
      await expect(WireClient.open(capped.wsUrl, { token: auth.sessionToken })).rejects.toThrow("HTTP 503");
      u3.close();
      await connectionsSettle(capped.httpUrl, 2);
      const t = await WireClient.open(capped.wsUrl, { token: auth.sessionToken });
      await t.push("authOk");
      for (const c of [u1, u2, t]) c.close();
      expect(await metricValue(capped.httpUrl, 'chat_upgrades_rejected_total{status="503"}')).toBe(2);
    } finally {
      await capped.close();
    }
  });

  it("/healthz answers 200 with the connection count; /metrics is Prometheus text with the server's metrics", async () => {
    await connectionsSettle(server.httpUrl, 0);
    const a = await registered(server.wsUrl);
    const h = await health(server.httpUrl);
    expect(h).toEqual({ status: 200, body: { status: "ok", connections: 1 } });

    const res = await fetch(`${server.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    for (const name of [
      "chat_connections",
      "chat_connections_total",
      "chat_closes_total",
      "chat_frames_in_total",
      "chat_frames_out_total",
      "chat_errors_total",
      "chat_request_seconds",
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    }
    expect(text).toMatch(/^chat_connections\{state="open"\} 1$/m);
    // Earlier tests in this file closed connections with 1003 and 4102 and counted frames by kind.
    expect(await metricValue(server.httpUrl, 'chat_closes_total{code="1003"}')).toBeGreaterThanOrEqual(2);
    expect(await metricValue(server.httpUrl, 'chat_closes_total{code="4102"}')).toBeGreaterThanOrEqual(1);
    expect(await metricValue(server.httpUrl, 'chat_frames_in_total{kind="register"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^chat_request_seconds_bucket\{le="0.001",kind="register"\} \d+$/m);
    a.client.close();
  });

  it("unknown paths are 404 (an upgrade too), other methods 405", async () => {
    expect((await fetch(`${server.httpUrl}/nope`)).status).toBe(404);
    expect((await fetch(`${server.httpUrl}/healthz`, { method: "POST" })).status).toBe(405);
    await expect(WireClient.open(`ws://127.0.0.1:${server.port}/other`)).rejects.toThrow("HTTP 404");
  });
});
