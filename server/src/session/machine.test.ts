// The connection state machine without sockets: every transition, frames before auth, unknown frames,
// frames after close, rate limiting and protocol violations.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode, ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { type Action, CONGESTED_RETRY_MS, type Input, initialState, type Limits, type SessionState, step } from "./machine.ts";

const limits: Limits = { ratePerSec: 10, burst: 5, maxViolations: 3, maxRateStrikes: 4 };
type Kind = NonNullable<MessageInitShape<typeof ClientFrameSchema>["kind"]>;
const frame = (kind: Kind | undefined, id = 1): Input => ({
  _tag: "Frame",
  frame: create(ClientFrameSchema, kind ? { id, kind } : { id }),
});
const fresh = (): SessionState => initialState(0, limits);
const ready = (): SessionState => step(fresh(), { _tag: "Authenticated", username: "ann", token: "t" }, 0, limits).state;

const errorCodes = (actions: ReadonlyArray<Action>) =>
  actions.flatMap((a) => (a._tag === "Send" && a.frame.kind.case === "error" ? [a.frame.kind.value.code] : []));
const closeCode = (actions: ReadonlyArray<Action>) => actions.find((a) => a._tag === "Close")?.code;

describe("awaiting auth", () => {
  it("executes register, login and resume", () => {
    for (const kind of [
      { case: "register", value: { username: "ann", password: "pw123456" } },
      { case: "login", value: { username: "ann", password: "pw123456" } },
      { case: "resume", value: { sessionToken: "t" } },
    ] as const) {
      const { state, actions } = step(fresh(), frame(kind, 7), 0, limits);
      expect(state._tag).toBe("AwaitingAuth");
      expect(actions).toEqual([{ _tag: "Execute", id: 7, request: expect.objectContaining({ case: kind.case }) }]);
    }
  });

  it("answers ping with a pong echoing nonce and client time, stamped with the server time", () => {
    const { actions } = step(fresh(), frame({ case: "ping", value: { nonce: 42n, clientTimeMs: 1000n } }, 3), 5000, limits);
    const send = actions[0];
    expect(send?._tag === "Send" && send.frame.id).toBe(3);
    expect(send?._tag === "Send" && send.frame.kind).toEqual({
      case: "pong",
      value: expect.objectContaining({ nonce: 42n, clientTimeMs: 1000n, serverTimeMs: 5000n }),
    });
  });

  it("anything else before auth: Error UNAUTHENTICATED, then close 4101, and nothing is executed", () => {
    const { state, actions } = step(fresh(), frame({ case: "joinRoom", value: { code: "ABCDEF" } }), 0, limits);
    expect(errorCodes(actions)).toEqual([ErrorCode.UNAUTHENTICATED]);
    expect(closeCode(actions)).toBe(CloseCode.NOT_AUTHENTICATED);
    expect(actions.some((a) => a._tag === "Execute")).toBe(false);
    expect(state._tag).toBe("Closing");
  });

  it("closes 4100 at the auth deadline, but not once authenticated", () => {
    expect(closeCode(step(fresh(), { _tag: "AuthDeadline" }, 0, limits).actions)).toBe(CloseCode.AUTH_TIMEOUT);
    expect(step(ready(), { _tag: "AuthDeadline" }, 0, limits).actions).toEqual([]);
  });

  it("becomes Ready with the username and token after a successful auth", () => {
    const state = ready();
    expect(state).toMatchObject({ _tag: "Ready", username: "ann", token: "t" });
  });
});

describe("ready", () => {
  it("executes every non-auth request kind", () => {
    const kinds: Kind[] = [
      { case: "logout", value: {} },
      { case: "createRoom", value: {} },
      { case: "joinRoom", value: { code: "X" } },
      { case: "leaveRoom", value: { code: "X" } },
      { case: "listRooms", value: {} },
      { case: "sendMessage", value: {} },
      { case: "history", value: {} },
      { case: "recover", value: {} },
      { case: "typing", value: {} },
      { case: "onlineUsers", value: {} },
      { case: "sendDirect", value: {} },
      { case: "directHistory", value: {} },
    ];
    for (const kind of kinds) {
      const { actions } = step(ready(), frame(kind, 9), 0, limits);
      expect(actions, kind.case).toEqual([{ _tag: "Execute", id: 9, request: expect.objectContaining({ case: kind.case }) }]);
    }
  });

  it("refuses a second authentication with ALREADY_AUTHENTICATED and stays Ready", () => {
    const { state, actions } = step(ready(), frame({ case: "login", value: {} }), 0, limits);
    expect(errorCodes(actions)).toEqual([ErrorCode.ALREADY_AUTHENTICATED]);
    expect(state._tag).toBe("Ready");
  });

  it("an Authenticated input while Ready changes nothing", () => {
    const before = ready();
    expect(step(before, { _tag: "Authenticated", username: "bob", token: "u" }, 0, limits).state).toEqual(before);
  });
});

describe("congested outbox", () => {
  const large: Kind[] = [
    { case: "history", value: { roomCode: "ABCDEF", limit: 200 } },
    { case: "recover", value: { roomCode: "ABCDEF" } },
    { case: "directHistory", value: { peer: "bob", limit: 200 } },
  ];

  it("answers history, recover and direct history with RATE_LIMITED and a retry delay instead of executing them", () => {
    for (const kind of large) {
      const { state, actions } = step(ready(), frame(kind, 9), 0, limits, true);
      expect(actions, kind.case).toHaveLength(1);
      const sent = actions[0];
      expect(sent?._tag === "Send" && sent.frame.id).toBe(9);
      expect(sent?._tag === "Send" && sent.frame.kind).toEqual({
        case: "error",
        value: expect.objectContaining({ code: ErrorCode.RATE_LIMITED, retryAfterMs: CONGESTED_RETRY_MS }),
      });
      // Not a rate strike: the connection is not closed for asking again.
      expect(state).toMatchObject({ _tag: "Ready", rateStrikes: 0 });
    }
  });

  it("still answers pings and executes requests with small replies; the same large requests run once it is not congested", () => {
    expect(step(ready(), frame({ case: "ping", value: { nonce: 1n } }, 4), 0, limits, true).actions[0]).toMatchObject({
      _tag: "Send",
      frame: { id: 4, kind: { case: "pong" } },
    });
    for (const kind of [
      { case: "sendMessage", value: {} },
      { case: "listRooms", value: {} },
      { case: "leaveRoom", value: { code: "X" } },
    ] as Kind[]) {
      expect(step(ready(), frame(kind, 5), 0, limits, true).actions, kind.case).toEqual([
        { _tag: "Execute", id: 5, request: expect.objectContaining({ case: kind.case }) },
      ]);
    }
    for (const kind of large) {
      expect(step(ready(), frame(kind, 6), 0, limits, false).actions, kind.case).toEqual([
        { _tag: "Execute", id: 6, request: expect.objectContaining({ case: kind.case }) },
      ]);
    }
  });
});

describe("violations", () => {
  it("a frame with id 0 gets INVALID_ARGUMENT with id 0", () => {
    const { actions } = step(ready(), frame({ case: "listRooms", value: {} }, 0), 0, limits);
    expect(errorCodes(actions)).toEqual([ErrorCode.INVALID_ARGUMENT]);
    expect(actions[0]?._tag === "Send" && actions[0].frame.id).toBe(0);
  });

  it("a frame with no kind gets UNKNOWN_FRAME with the frame's id", () => {
    const { actions } = step(ready(), frame(undefined, 5), 0, limits);
    expect(errorCodes(actions)).toEqual([ErrorCode.UNKNOWN_FRAME]);
    expect(actions[0]?._tag === "Send" && actions[0].frame.id).toBe(5);
  });

  it("malformed frames get MALFORMED_FRAME and the maxViolations-th closes 4102", () => {
    let state = fresh();
    for (let i = 1; i < limits.maxViolations; i++) {
      const r = step(state, { _tag: "Malformed" }, 0, limits);
      expect(errorCodes(r.actions)).toEqual([ErrorCode.MALFORMED_FRAME]);
      expect(closeCode(r.actions)).toBeUndefined();
      state = r.state;
    }
    const last = step(state, { _tag: "Malformed" }, 0, limits);
    expect(errorCodes(last.actions)).toEqual([ErrorCode.MALFORMED_FRAME]);
    expect(closeCode(last.actions)).toBe(CloseCode.PROTOCOL_VIOLATION);
  });

  it("violations carry over from before auth", () => {
    let state = step(fresh(), { _tag: "Malformed" }, 0, limits).state;
    state = step(state, { _tag: "Authenticated", username: "ann", token: "t" }, 0, limits).state;
    expect(state).toMatchObject({ _tag: "Ready", violations: 1 });
  });

  it("a text message closes 1003 at once", () => {
    expect(closeCode(step(ready(), { _tag: "Text" }, 0, limits).actions)).toBe(CloseCode.UNSUPPORTED_DATA);
  });
});

describe("rate limit", () => {
  const ping = frame({ case: "ping", value: {} });

  it("allows a burst, then answers RATE_LIMITED with a retry delay, and refills with time", () => {
    let state = ready();
    for (let i = 0; i < limits.burst; i++) {
      const r = step(state, ping, 0, limits);
      expect(errorCodes(r.actions)).toEqual([]);
      state = r.state;
    }
    const limited = step(state, ping, 0, limits);
    expect(errorCodes(limited.actions)).toEqual([ErrorCode.RATE_LIMITED]);
    const sent = limited.actions[0];
    expect(sent?._tag === "Send" && sent.frame.kind.case === "error" && sent.frame.kind.value.retryAfterMs).toBe(100);
    // 100 ms later one token has come back.
    expect(errorCodes(step(limited.state, ping, 100, limits).actions)).toEqual([]);
  });

  it("closes 4103 after maxRateStrikes consecutive limited frames", () => {
    let state = ready();
    for (let i = 0; i < limits.burst; i++) state = step(state, ping, 0, limits).state;
    for (let i = 0; i < limits.maxRateStrikes; i++) {
      const r = step(state, ping, 0, limits);
      expect(closeCode(r.actions)).toBeUndefined();
      state = r.state;
    }
    expect(closeCode(step(state, ping, 0, limits).actions)).toBe(CloseCode.RATE_LIMITED);
  });
});

describe("closing", () => {
  it.each([
    ["HeartbeatTimeout", CloseCode.HEARTBEAT_TIMEOUT],
    ["SlowConsumer", CloseCode.SLOW_CONSUMER],
    ["Shutdown", CloseCode.GOING_AWAY],
    ["LoggedOut", CloseCode.NORMAL],
    ["SessionRevoked", CloseCode.SESSION_REVOKED],
  ] as const)("%s closes with %i", (tag, code) => {
    const { state, actions } = step(ready(), { _tag: tag }, 0, limits);
    expect(state).toEqual({ _tag: "Closing", code });
    expect(closeCode(actions)).toBe(code);
  });

  it("ignores every input after close, frames included", () => {
    const closed = step(ready(), { _tag: "Shutdown" }, 0, limits).state;
    for (const input of [
      frame({ case: "ping", value: {} }),
      { _tag: "Malformed" } as const,
      { _tag: "Text" } as const,
      { _tag: "HeartbeatTimeout" } as const,
    ]) {
      expect(step(closed, input, 0, limits)).toEqual({ state: closed, actions: [] });
    }
  });
});
