import { afterAll, beforeAll, expect, it } from "vitest";
import { startServer, type TestServer } from "../../../server/src/testing.ts";
import { ChatClient, type ChatMessage } from "./index.ts";

let server: TestServer;
beforeAll(async () => { server = await startServer({ heartbeatIntervalMs: 200, registerPerIpPerMin: 1000 }); });
afterAll(async () => { await server.close(); });

it("smoke", async () => {
  const a = new ChatClient({ url: server.wsUrl });
  const b = new ChatClient({ url: server.wsUrl });
  const ok = await a.register(`a${Date.now()}`, "correct horse");
  await b.register(`b${Date.now()}`, "correct horse");
  expect(a.state).toBe("connected");
  const room = await a.createRoom("x");
  await b.joinRoom(room.room!.code.toLowerCase());
  const got: ChatMessage[] = [];
  b.on("message", (m) => got.push(m));
  const p = a.send(room.room!.code, "hello");
  const ack = await p.acked;
  expect(ack.seq).toBe(1n);
  await expect.poll(() => got.length).toBe(1);
  expect(got[0]!.text).toBe("hello");
  expect(a.members(room.room!.code)).toHaveLength(2);
  await new Promise((r) => setTimeout(r, 700));
  expect(a.state).toBe("connected");
  a.close(); b.close();
  void ok;
});
