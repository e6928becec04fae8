// The connection's pure rules: which close codes reconnect (and how often), the missed-pong rule, and the
// session values with the contract's defaults.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AuthOkSchema } from "../../../proto/gen/es/chat/v1/auth_pb.js";
import { CloseCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { heartbeatTick, lossDecision, noSession, pongReceived, publicState, sessionInfo, startHeartbeat } from "./connection.ts";

describe("lossDecision", () => {
  it("4103: one slow retry, the second in a row stops; any other close resets the count", () => {
    const first = lossDecision(noSession, CloseCode.RATE_LIMITED);
    expect(first).toMatchObject({ willReconnect: true, slow: true, forgetToken: false });
    expect(lossDecision(first.session, CloseCode.RATE_LIMITED).willReconnect).toBe(false);
    const reset = lossDecision(first.session, 1006).session;
    expect(lossDecision(reset, CloseCode.RATE_LIMITED).willReconnect).toBe(true);
  });

  it("4002 (busy) keeps retrying slowly; 1001, 1006 and 4000 retry at the normal pace", () => {
    let session = noSession;
    for (let i = 0; i < 5; i++) {
      const d = lossDecision(session, CloseCode.SERVER_BUSY);
      expect(d).toMatchObject({ willReconnect: true, slow: true });
      session = d.session;
    }
    for (const code of [1001, 1006, CloseCode.HEARTBEAT_TIMEOUT])
      expect(lossDecision(noSession, code)).toMatchObject({ willReconnect: true, slow: false });
  });

  it("4100/4101 get one more try; 4104 stops and forgets the token; 1000 and protocol bugs stop", () => {
    const once = lossDecision(noSession, CloseCode.AUTH_TIMEOUT);
    expect(once.willReconnect).toBe(true);
    expect(lossDecision(once.session, CloseCode.NOT_AUTHENTICATED).willReconnect).toBe(false);
    expect(lossDecision(noSession, CloseCode.SESSION_REVOKED)).toMatchObject({ willReconnect: false, forgetToken: true });
    for (const code of [CloseCode.NORMAL, CloseCode.PROTOCOL_VIOLATION, CloseCode.MESSAGE_TOO_BIG]) {
      expect(lossDecision(noSession, code)).toMatchObject({ willReconnect: false, forgetToken: false });
    }
  });
});

describe("heartbeat", () => {
  it("gives the socket up when two ticks in a row find a Ping unanswered, not after one", () => {
    let hb = startHeartbeat(100);
    let tick = heartbeatTick(hb, 1); // Ping 1
    expect(tick.ping).toBe(true);
    tick = heartbeatTick(tick.heartbeat, 2); // Ping 1 unanswered: one miss, Ping 2 goes out
    expect(tick).toMatchObject({ ping: true, heartbeat: { missed: 1, unanswered: [1, 2] } });
    expect(heartbeatTick(tick.heartbeat, 3).ping).toBe(false); // second miss in a row: drop

    // A late Pong for the first Ping still proves the connection alive.
    hb = pongReceived(tick.heartbeat, 1)!;
    expect(hb).toMatchObject({ missed: 0, unanswered: [] });
    expect(heartbeatTick(hb, 3).ping).toBe(true);
    expect(pongReceived(hb, 99)).toBeUndefined();
  });
});

it("session values: what AuthOk says, or the contract's defaults when a server leaves them at 0", () => {
  const old = sessionInfo(create(AuthOkSchema, { username: "ada", sessionToken: "t" }));
  expect(old).toMatchObject({ heartbeatIntervalMs: 5000, roomGraceMs: 30_000, typingTtlMs: 5000, maxFrameBytes: 65_536 });
  const now = sessionInfo(
    create(AuthOkSchema, { username: "ada", sessionToken: "t", heartbeatIntervalMs: 150, roomGraceMs: 700, typingTtlMs: 900 }),
  );
  expect(now).toMatchObject({ heartbeatIntervalMs: 150, roomGraceMs: 700, typingTtlMs: 900 });
});

it("maps the phases onto the public three states", () => {
  expect(publicState({ _tag: "Idle" })).toBe("disconnected");
  expect(publicState({ _tag: "Backoff", attempt: 2, retryAtMs: 0, slow: false })).toBe("connecting");
  expect(publicState({ _tag: "Opening", socket: 1, attempt: 0, auth: { _tag: "Resume", token: "t" } })).toBe("connecting");
  expect(publicState({ _tag: "Ready", socket: 1, heartbeat: startHeartbeat(5000) })).toBe("connected");
});
