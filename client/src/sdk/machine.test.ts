// The SDK's core driven event by event, without sockets or timers: what goes out on the wire, in which
// order, what is reported, and that a stop settles everything before it reports anything.
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type ClientFrame, ClientFrameSchema, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode, ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { ChatError } from "./errors.ts";
import { type ClientState, type Config, type Effect, type Event, initialState, step } from "./machine.ts";

const CONFIG: Config = {
  backoff: { initialMs: 100, maxMs: 1000 },
  reconnect: true,
  requestTimeoutMs: 5000,
  pacing: { perSec: 100, burst: 100 },
};
const CODE = "K7QX2M";

/** Feeds events one by one (clock 0, random 1), keeping the effects of the last one. */
class Driver {
  state: ClientState = initialState(CONFIG, 0);
  effects: ReadonlyArray<Effect> = [];
  /** Timers set and neither cleared nor fired, as the shell would hold them. */
  readonly timers = new Set<string>();
  now = 0;
  /** Whether a page shows the client (ctx.visible). */
  visible = false;
  random = 1;
  feed(...events: Event[]): ReadonlyArray<Effect> {
    const all: Effect[] = [];
    for (const e of events) {
      if (e._tag === "Timer") this.timers.delete(e.timer);
      const r = step(this.state, e, { now: this.now, random: this.random, visible: this.visible });
      this.state = r.state;
      all.push(...r.effects);
      for (const fx of r.effects) {
        if (fx._tag === "SetTimer") this.timers.add(fx.timer);
        if (fx._tag === "ClearTimer") this.timers.delete(fx.timer);
      }
    }
    this.effects = all;
    return all;
  }
  /** Frames written to the socket by the last events. */
  written(): ClientFrame[] {
    return this.effects.flatMap((e) => (e._tag === "Write" ? [fromBinary(ClientFrameSchema, e.bytes)] : []));
  }
  emitted(): string[] {
    return this.effects.flatMap((e) =>
      e._tag === "Emit" ? [e.event.name === "state" ? `state:${e.event.payload.state}` : e.event.name] : [],
    );
  }
  reply(socket: number, id: number, kind: NonNullable<MessageInitShape<typeof ServerFrameSchema>["kind"]>): ReadonlyArray<Effect> {
    return this.feed({ _tag: "SocketMessage", socket, data: toBinary(ServerFrameSchema, create(ServerFrameSchema, { id, kind })) });
  }
  /** Opens socket `socket` and answers its auth frame with an AuthOk. */
  authenticate(socket: number): void {
    this.feed({ _tag: "SocketOpened", socket });
    const auth = this.written()[0]!;
    this.reply(socket, auth.id, { case: "authOk", value: { username: "ada", sessionToken: "tok", heartbeatIntervalMs: 1000 } });
  }
}

const ready = () => {
  const d = new Driver();
  d.feed({ _tag: "Authenticate", ticket: 1, kind: { case: "login", value: { username: "ada", password: "pw" } } });
  d.authenticate(1);
  return d;
};

const joined = (d: Driver, lastSeq: number) => {
  d.feed({
    _tag: "Request",
    ticket: 2,
    kind: { case: "joinRoom", value: { code: CODE } },
    expect: "roomJoined",
    idempotent: true,
    purpose: { _tag: "Join" },
  });
  const join = d.written()[0]!;
  d.reply(1, join.id, {
    case: "roomJoined",
    value: { room: { code: CODE, name: "r" }, members: [{ username: "ada" }], memberCount: 1, lastSeq: BigInt(lastSeq) },
  });
};

describe("connection", () => {
  it("an explicit login: open, write the login frame, and on AuthOk report connected and resolve the call", () => {
    const d = new Driver();
    const opened = d.feed({ _tag: "Authenticate", ticket: 1, kind: { case: "login", value: { username: "ada", password: "pw" } } });
    expect(opened).toContainEqual({ _tag: "Open", socket: 1 });
    expect(opened).toContainEqual({ _tag: "SetTimer", timer: "connect", ms: 5000 });
    expect(d.emitted()).toEqual(["state:connecting"]);
    expect(opened).toContainEqual({
      _tag: "Emit",
      event: { name: "state", payload: { state: "connecting", previous: "disconnected", attempt: 0 } },
    });
    d.feed({ _tag: "SocketOpened", socket: 1 });
    expect(d.written().map((f) => f.kind.case)).toEqual(["login"]);
    const id = d.written()[0]!.id;
    const done = d.reply(1, id, { case: "authOk", value: { username: "ada", sessionToken: "tok", heartbeatIntervalMs: 1000 } });
    expect(d.emitted()).toEqual(["state:connected", "authenticated"]);
    expect(done).toContainEqual(expect.objectContaining({ _tag: "Resolve", ticket: 1 }));
    expect(done).toContainEqual({ _tag: "SetTimer", timer: "heartbeat", ms: 1000 });
    expect(d.state.session).toMatchObject({ username: "ada", token: "tok", info: { roomGraceMs: 30_000, typingTtlMs: 5000 } });
  });

  it("a lost socket: backoff, then resume with the token; the rejoin goes out before requests queued meanwhile", () => {
    const d = ready();
    joined(d, 4);
    d.feed({ _tag: "SocketClosed", socket: 1, code: 1006, reason: "" });
    expect(d.emitted()).toEqual(["closed", "state:connecting"]);
    expect(d.effects).toContainEqual({
      _tag: "Emit",
      event: {
        name: "state",
        payload: { state: "connecting", previous: "connected", attempt: 1, nextRetryMs: 100, closeCode: 1006, reason: "" },
      },
    });
    expect(d.effects).toContainEqual({ _tag: "SetTimer", timer: "retry", ms: 100 });
    d.feed({
      _tag: "Request",
      ticket: 3,
      kind: { case: "listRooms", value: {} },
      expect: "roomList",
      idempotent: true,
      purpose: { _tag: "User" },
    });
    expect(d.written()).toEqual([]);
    expect(d.feed({ _tag: "Timer", timer: "retry" })).toContainEqual({ _tag: "Open", socket: 2 });
    d.feed({ _tag: "SocketOpened", socket: 2 });
    expect(d.written()[0]!.kind).toMatchObject({ case: "resume", value: { sessionToken: "tok" } });
    d.reply(2, d.written()[0]!.id, { case: "authOk", value: { username: "ada", sessionToken: "tok" } });
    expect(d.written().map((f) => f.kind.case)).toEqual(["joinRoom", "listRooms"]);
    // Events of the old socket no longer count.
    expect(d.feed({ _tag: "SocketClosed", socket: 1, code: 1006, reason: "" })).toEqual([]);
  });

  it("two unanswered Pings: the socket is dropped (4000) and the client reconnects", () => {
    const d = ready();
    d.feed({ _tag: "Timer", timer: "heartbeat" });
    const ping = d.written()[0]!;
    expect(ping.kind.case).toBe("ping");
    d.reply(1, ping.id, { case: "pong", value: {} });
    d.feed({ _tag: "Timer", timer: "heartbeat" }, { _tag: "Timer", timer: "heartbeat" });
    expect(d.state.conn._tag).toBe("Ready");
    const dropped = d.feed({ _tag: "Timer", timer: "heartbeat" });
    expect(dropped).toContainEqual({ _tag: "CloseSocket", socket: 1, code: 4000, reason: "no pong for two pings" });
    expect(d.state.conn).toEqual({ _tag: "Backoff", attempt: 1, retryAtMs: 100, slow: false });
  });
});

describe("reconnecting while a page shows the client", () => {
  // CONFIG caps the backoff at 1000 ms; a visible page caps it at 300 ms here.
  const visibleDriver = () => {
    const d = ready();
    d.state = { ...d.state, config: { ...d.state.config, backoff: { initialMs: 100, maxMs: 1000, visibleMaxMs: 300 } } };
    return d;
  };
  const retryDelay = (fx: ReadonlyArray<Effect>) => fx.flatMap((e) => (e._tag === "SetTimer" && e.timer === "retry" ? [e.ms] : []))[0];
  /** Fails the next attempts by refusing their sockets; returns each wait that was drawn. */
  const failAttempts = (d: Driver, n: number) =>
    Array.from({ length: n }, () => {
      d.feed({ _tag: "Timer", timer: "retry" });
      const socket = (d.state.conn as { socket: number }).socket;
      return retryDelay(d.feed({ _tag: "SocketFailed", socket, error: new Error("refused") }));
    });

  it("never waits longer than the visible cap, and the waits do not shrink by more than half (a steady countdown)", () => {
    const d = visibleDriver();
    d.visible = true;
    let seed = 11;
    d.random = 0.5;
    const first = retryDelay(d.feed({ _tag: "SocketClosed", socket: 1, code: 1006, reason: "" }));
    const waits = [first!];
    for (let i = 0; i < 12; i++) {
      d.random = (seed = (seed * 48271) % 2147483647) / 2147483647;
      waits.push(...(failAttempts(d, 1) as number[]));
    }
    for (const w of waits) expect(w).toBeLessThanOrEqual(300);
    for (let i = 1; i < waits.length; i++) expect(waits[i]!).toBeGreaterThanOrEqual(waits[i - 1]! / 2);
    // Each wait is reported as the time to the next attempt.
    expect(d.effects).toContainEqual(
      expect.objectContaining({
        _tag: "Emit",
        event: expect.objectContaining({ name: "state", payload: expect.objectContaining({ nextRetryMs: waits.at(-1) }) }),
      }),
    );
  });

  it("a hidden page (or Node) keeps the long cap with full jitter", () => {
    const d = visibleDriver();
    d.feed({ _tag: "SocketClosed", socket: 1, code: 1006, reason: "" });
    const waits = failAttempts(d, 6);
    expect(waits.at(-1)).toBe(1000);
  });

  it("coming into view shortens a long wait drawn while hidden, and says the new time", () => {
    const d = visibleDriver();
    d.feed({ _tag: "SocketClosed", socket: 1, code: 1006, reason: "" });
    failAttempts(d, 5);
    expect(d.state.conn).toMatchObject({ _tag: "Backoff", retryAtMs: 1000 });
    d.visible = true;
    const fx = d.feed({ _tag: "VisibilityChanged" });
    expect(retryDelay(fx)).toBe(300);
    expect(d.emitted()).toEqual(["state:connecting"]);
    expect(d.state.conn).toMatchObject({ _tag: "Backoff", retryAtMs: 300 });
    // Already short: nothing changes.
    expect(d.feed({ _tag: "VisibilityChanged" })).toEqual([]);
  });

  it("retry now skips the wait: the timer is cleared and the socket opens at once", () => {
    const d = visibleDriver();
    d.feed({ _tag: "SocketClosed", socket: 1, code: 1006, reason: "" });
    const fx = d.feed({ _tag: "RetryNow" });
    expect(fx.slice(0, 2)).toEqual([
      { _tag: "ClearTimer", timer: "retry" },
      { _tag: "Open", socket: 2 },
    ]);
    expect(d.state.conn._tag).toBe("Opening");
    // Not waiting: nothing to skip.
    expect(d.feed({ _tag: "RetryNow" })).toEqual([]);
  });
});

describe("stopping", () => {
  it("4104: every pending promise is settled before anything is reported; then closed, error, disconnected", () => {
    const d = ready();
    joined(d, 0);
    d.feed(
      {
        _tag: "Send",
        ticket: 10,
        kind: { case: "sendMessage", value: { roomCode: CODE, clientMessageId: "m1", text: "hi" } },
        expect: "sendAck",
        text: "hi",
      },
      {
        _tag: "Request",
        ticket: 11,
        kind: { case: "history", value: { roomCode: CODE } },
        expect: "historyPage",
        idempotent: true,
        purpose: { _tag: "User" },
      },
    );
    const fx = d.feed({ _tag: "SocketClosed", socket: 1, code: CloseCode.SESSION_REVOKED, reason: "session revoked" });
    const rejected = fx.flatMap((e, i) => (e._tag === "Reject" ? [[e.ticket, i]] : []));
    const firstEmit = fx.findIndex((e) => e._tag === "Emit");
    expect(rejected.map(([t]) => t).sort((a, b) => a! - b!)).toEqual([10, 11]);
    expect(rejected.every(([, i]) => i! < firstEmit)).toBe(true);
    expect(d.emitted()).toEqual(["closed", "error", "state:disconnected"]);
    expect(d.state.conn).toEqual({ _tag: "Idle" });
    expect(d.state.session.token).toBeUndefined();
    expect(d.state.sends.size).toBe(0);
    expect(d.state.requests.calls.size).toBe(0);
    expect(fx.some((e) => e._tag === "SetTimer")).toBe(false);
  });

  it("close(): the socket is closed by the client, rooms are forgotten, no error event", () => {
    const d = ready();
    joined(d, 0);
    const fx = d.feed({ _tag: "Close", forgetToken: false, error: new ChatError("the client was closed") });
    expect(fx).toContainEqual({ _tag: "CloseSocket", socket: 1, code: 1000, reason: "closed by the client" });
    expect(d.emitted()).toEqual(["closed", "state:disconnected"]);
    expect(d.state.rooms.size).toBe(0);
    expect(d.state.session.token).toBe("tok");
    // Nothing to stop any more: a second close reports nothing.
    d.feed({ _tag: "Close", forgetToken: false, error: new ChatError("again") });
    expect(d.emitted()).toEqual([]);
  });

  it("close() leaves no timer behind: heartbeat, request timeouts, send retries and room resyncs are all cleared", () => {
    const d = ready();
    joined(d, 0);
    d.feed(
      {
        _tag: "Request",
        ticket: 20,
        kind: { case: "listRooms", value: {} },
        expect: "roomList",
        idempotent: true,
        purpose: { _tag: "User" },
      },
      {
        _tag: "Send",
        ticket: 21,
        kind: { case: "sendMessage", value: { roomCode: CODE, clientMessageId: "m", text: "x" } },
        expect: "sendAck",
        text: "x",
      },
    );
    const send = d.written().find((f) => f.kind.case === "sendMessage")!;
    d.reply(1, send.id, { case: "error", value: { code: ErrorCode.UNAVAILABLE, message: "", retryAfterMs: 500 } });
    expect(d.effects).toContainEqual({ _tag: "SetTimer", timer: "resend:21", ms: 500 });
    // A reconnect whose rejoin is refused for a while: the rejoin waits for its own timer.
    d.feed({ _tag: "SocketClosed", socket: 1, code: 1006, reason: "" }, { _tag: "Timer", timer: "retry" });
    d.authenticate(2);
    const rejoin = d.written().find((f) => f.kind.case === "joinRoom")!;
    d.reply(2, rejoin.id, { case: "error", value: { code: ErrorCode.RATE_LIMITED, message: "", retryAfterMs: 300 } });
    expect([...d.timers].sort()).toEqual(["heartbeat", "resend:21", `resync:${CODE}`, "timeout:2"]);
    d.feed({ _tag: "Close", forgetToken: false, error: new ChatError("the client was closed") });
    expect(d.timers).toEqual(new Set());
  });

  it("a failed explicit login rejects its call and stops without an error event", () => {
    const d = new Driver();
    d.feed(
      { _tag: "Authenticate", ticket: 1, kind: { case: "login", value: { username: "ada", password: "bad" } } },
      { _tag: "SocketOpened", socket: 1 },
    );
    const fx = d.reply(1, d.written()[0]!.id, { case: "error", value: { code: ErrorCode.UNAUTHENTICATED, message: "no" } });
    expect(fx[0]).toMatchObject({ _tag: "Reject", ticket: 1, error: { code: ErrorCode.UNAUTHENTICATED } });
    expect(d.emitted()).toEqual(["closed", "state:disconnected"]);
  });
});

describe("rooms", () => {
  it("a hole in the live stream asks for a recovery and delivers in seq order once it arrives", () => {
    const d = ready();
    joined(d, 1);
    const msg = (seq: number) => ({ roomCode: CODE, seq: BigInt(seq), text: `m${seq}` });
    d.reply(1, 0, { case: "message", value: msg(2) });
    expect(d.emitted()).toEqual(["message"]);
    d.reply(1, 0, { case: "message", value: msg(5) });
    const recover = d.written()[0]!;
    expect(recover.kind).toMatchObject({ case: "recover", value: { roomCode: CODE, afterSeq: 2n } });
    d.reply(1, 0, { case: "message", value: msg(6) });
    expect(d.emitted()).toEqual([]);
    d.reply(1, recover.id, { case: "recoverResult", value: { roomCode: CODE, recovered: true, lastSeq: 6n, messages: [msg(3), msg(4)] } });
    const seqs = d.effects.flatMap((e) => (e._tag === "Emit" && e.event.name === "message" ? [Number(e.event.payload.seq)] : []));
    expect(seqs).toEqual([3, 4, 5, 6]);
    expect(d.emitted().at(-1)).toBe("recovered");
  });
});

it("step never changes the state it is given", () => {
  const d = ready();
  joined(d, 0);
  const before = d.state;
  const copy = structuredClone(before);
  step(before, { _tag: "SocketClosed", socket: 1, code: CloseCode.SESSION_REVOKED, reason: "" }, { now: 0, random: 0 });
  step(
    before,
    {
      _tag: "Send",
      ticket: 9,
      kind: { case: "sendMessage", value: { roomCode: CODE, clientMessageId: "m", text: "x" } },
      expect: "sendAck",
      text: "x",
    },
    { now: 0, random: 0 },
  );
  expect(before).toEqual(copy);
});
