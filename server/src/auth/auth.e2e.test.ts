// Accounts and storage seen through a real server on port 0: one error for unknown user and bad password,
// login throttling, logout revoking the token at the upgrade, and everything surviving a restart.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { registered, uniqueName, WireClient } from "../../test/wire-client.ts";
import { startServer, type TestServer } from "../testing.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const loginReply = async (username: string, password: string) => {
  const client = await WireClient.open(server.wsUrl);
  const reply = await client.request({ case: "login", value: { username, password } });
  client.close();
  return reply.kind;
};

describe("accounts through the server", () => {
  it("an unknown user and a wrong password get the very same error", async () => {
    const a = await registered(server.wsUrl);
    a.client.close();
    const unknown = await loginReply(uniqueName("ghost"), "some password");
    const wrong = await loginReply(a.username, "some password");
    expect(unknown.case).toBe("error");
    expect(unknown).toEqual(wrong);
    expect(unknown.case === "error" && unknown.value.code).toBe(ErrorCode.UNAUTHENTICATED);
  });

  it("after 5 failed logins the account is rate limited, even with the right password", async () => {
    const a = await registered(server.wsUrl);
    a.client.close();
    for (let i = 0; i < 5; i++) expect((await loginReply(a.username.toUpperCase(), `wrong password ${i}`)).case).toBe("error");
    const limited = await loginReply(a.username, a.password);
    expect(limited.case === "error" && limited.value.code).toBe(ErrorCode.RATE_LIMITED);
    expect(limited.case === "error" && limited.value.retryAfterMs).toBeGreaterThan(60_000);
  });

  it("logout revokes the token: the upgrade answers 401 and resume is UNAUTHENTICATED", async () => {
    const a = await registered(server.wsUrl);
    const b = await WireClient.open(server.wsUrl, { token: a.auth.sessionToken });
    expect((await b.push("authOk")).username).toBe(a.username);
    await a.client.call({ case: "logout", value: {} }, "ok");
    await expect(WireClient.open(server.wsUrl, { token: a.auth.sessionToken })).rejects.toThrow("HTTP 401");
    const c = await WireClient.open(server.wsUrl);
    const reply = await c.request({ case: "resume", value: { sessionToken: a.auth.sessionToken } });
    expect(reply.kind.case === "error" && reply.kind.value.code).toBe(ErrorCode.UNAUTHENTICATED);
    for (const x of [a.client, b, c]) x.close();
  });
});

describe("storage across a restart", () => {
  it("accounts, sessions, rooms and history survive; seqs continue", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "protochat-restart-"));
    try {
      const first = await startServer({ dataDir });
      const a = await registered(first.wsUrl);
      const { room } = await a.client.call({ case: "createRoom", value: { name: "kept" } }, "roomJoined");
      const code = room!.code;
      for (const id of ["one", "two"]) {
        await a.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: id, text: id } }, "sendAck");
      }
      await first.close({ keepData: true });

      const second = await startServer({ dataDir });
      const resumed = await WireClient.open(second.wsUrl, { token: a.auth.sessionToken });
      expect((await resumed.push("authOk")).username).toBe(a.username);
      const login = await WireClient.open(second.wsUrl);
      await login.call({ case: "login", value: { username: a.username, password: a.password } }, "authOk");
      const joined = await login.call({ case: "joinRoom", value: { code } }, "roomJoined");
      expect(joined.lastSeq).toBe(2n);
      const ack = await login.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "three", text: "three" } }, "sendAck");
      expect(ack.seq).toBe(3n);
      const retry = await login.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: "one", text: "again" } }, "sendAck");
      expect([retry.seq, retry.duplicate]).toEqual([1n, true]);
      const page = await login.call({ case: "history", value: { roomCode: code } }, "historyPage");
      expect(page.messages.map((m) => m.text)).toEqual(["one", "two", "three"]);
      for (const x of [resumed, login]) x.close();
      await second.close({ keepData: true });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
