// End-to-end flows against a real server on port 0, over real sockets.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { registered, uniqueName, WireClient } from "./wire-client.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ roomGraceMs: 200, typingTtlMs: 300 });
});
afterAll(() => server.close());

describe("rooms and messages", () => {
  it("create, join by code, send: every member sees the same order, the sender gets an ack", async () => {
    const a = await registered(server.wsUrl);
    const b = await registered(server.wsUrl);
    const c = await registered(server.wsUrl);
    const created = await a.client.call({ case: "createRoom", value: { name: "team" } }, "roomJoined");
    expect(created.room?.code).toMatch(/^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{6}$/);
    const code = created.room!.code;
    const joinedB = await b.client.call({ case: "joinRoom", value: { code: code.toLowerCase() } }, "roomJoined");
    expect(joinedB.members.map((m) => m.username).sort()).toEqual([a.username, b.username].sort());
    await c.client.call({ case: "joinRoom", value: { code } }, "roomJoined");

    const sends = [a, b, c].flatMap((u, i) =>
      [0, 1, 2].map((j) =>
        u.client.call(
          { case: "sendMessage", value: { roomCode: code, clientMessageId: `m${i}-${j}`, text: `hello ${i}.${j}` } },
          "sendAck",
        ),
      ),
    );
    const acks = await Promise.all(sends);
    expect(acks.map((x) => Number(x.seq)).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    const orders = await Promise.all(
      [a, b, c].map(async (u) => {
        const seen: string[] = [];
        for (let k = 0; k < 9; k++) {
          const m = await u.client.push("message", (v) => v.roomCode === code);
          seen.push(`${m.seq}:${m.clientMessageId}:${m.sender}`);
        }
        return seen;
      }),
    );
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
    expect(orders[0]!.map((s) => Number(s.split(":")[0]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const u of [a, b, c]) u.client.close();
  });

  it("a retried send with the same client message id is stored and delivered once", async () => {
    const a = await registered(server.wsUrl);
    const { room } = await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    const send = { case: "sendMessage" as const, value: { roomCode: room!.code, clientMessageId: "same-id", text: "once" } };
    const first = await a.client.call(send, "sendAck");
    const again = await a.client.call({ ...send, value: { ...send.value, text: "twice?" } }, "sendAck");
    expect(again.seq).toBe(first.seq);
    expect(again.duplicate).toBe(true);
    const page = await a.client.call({ case: "history", value: { roomCode: room!.code } }, "historyPage");
    expect(page.messages.map((m) => m.text)).toEqual(["once"]);
    a.client.close();
  });

  it("sending to a room not joined is NOT_MEMBER; joining a made-up code is NOT_FOUND", async () => {
    const a = await registered(server.wsUrl);
    const r1 = await a.client.request({ case: "sendMessage", value: { roomCode: "ZZZZZZ", clientMessageId: "x", text: "hi" } });
    expect(r1.kind.case === "error" && r1.kind.value.code).toBe(ErrorCode.NOT_MEMBER);
    const r2 = await a.client.request({ case: "joinRoom", value: { code: "ZZZZZZ" } });
    expect(r2.kind.case === "error" && r2.kind.value.code).toBe(ErrorCode.NOT_FOUND);
    a.client.close();
  });
});

describe("limits", () => {
  it("a user may create at most maxPersistentRoomsPerUser persistent rooms (default 10): then LIMIT_EXCEEDED", async () => {
    const a = await registered(server.wsUrl);
    for (let i = 0; i < 10; i++) await a.client.call({ case: "createRoom", value: { name: `p${i}`, persistent: true } }, "roomJoined");
    const over = await a.client.request({ case: "createRoom", value: { name: "one too many", persistent: true } });
    expect(over.kind.case === "error" && over.kind.value.code).toBe(ErrorCode.LIMIT_EXCEEDED);
    // Temporary rooms are not capped this way.
    await a.client.call({ case: "createRoom", value: {} }, "roomJoined");
    a.client.close();
  });
});

describe("auth", () => {
  it("a bad token at the upgrade gets HTTP 401 and no WebSocket", async () => {
    await expect(WireClient.open(server.wsUrl, { token: "x".repeat(43) })).rejects.toThrow("HTTP 401");
  });

  it("a good token at the upgrade authenticates: AuthOk is pushed first", async () => {
    const a = await registered(server.wsUrl);
    const b = await WireClient.open(server.wsUrl, { token: a.auth.sessionToken });
    const ok = await b.push("authOk");
    expect(ok.username).toBe(a.username);
    // The room grace and typing TTL are announced (clients must not hard-code them), in the reply and the push.
    expect([a.auth.roomGraceMs, a.auth.typingTtlMs, ok.roomGraceMs, ok.typingTtlMs]).toEqual([200, 300, 200, 300]);
    await b.call({ case: "listRooms", value: {} }, "roomList");
    b.close();
    a.client.close();
  });

  it("unknown user and wrong password give the same error", async () => {
    const a = await registered(server.wsUrl);
    const c = await WireClient.open(server.wsUrl);
    const bad = await c.request({ case: "login", value: { username: a.username, password: "wrong password" } });
    const unknown = await c.request({ case: "login", value: { username: uniqueName("nobody"), password: "wrong password" } });
    expect(bad.kind.case === "error" && bad.kind.value.code).toBe(ErrorCode.UNAUTHENTICATED);
    expect(unknown.kind.case === "error" && [unknown.kind.value.code, unknown.kind.value.message]).toEqual(
      bad.kind.case === "error" && [bad.kind.value.code, bad.kind.value.message],
    );
    c.close();
    a.client.close();
  });
});
