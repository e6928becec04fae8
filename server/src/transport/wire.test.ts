// Pre-framed broadcasts must be byte-identical to what ws itself would send, at every length class.
import { describe, expect, it } from "vitest";
import { WebSocketServer, WebSocket } from "ws";
import { frameBinary, payloadOf, sinkOf } from "./wire.ts";

describe("frameBinary", () => {
  it.each([0, 1, 125, 126, 65535, 65536, 70000])("frames a %i-byte payload with the right header and recovers it", (n) => {
    const payload = new Uint8Array(n).map((_, i) => i % 251);
    const wire = frameBinary(payload);
    expect(wire[0]).toBe(0x82); // FIN + binary
    expect(wire.length - payloadOf(wire).length).toBe(n < 126 ? 2 : n < 65536 ? 4 : 10);
    expect(Buffer.from(payloadOf(wire)).equals(Buffer.from(payload))).toBe(true);
  });

  it("a real ws client receives pre-framed writes as binary messages, in order, with the same bytes", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const port = (wss.address() as { port: number }).port;
    wss.on("connection", (ws) => {
      const sink = sinkOf(ws);
      const shared = frameBinary(new Uint8Array([1, 2, 3]));
      sink.write(shared);
      sink.write(frameBinary(new Uint8Array(70000).fill(7)));
      sink.write(shared);
      ws.close(4001, "done");
    });
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    const got: Array<{ binary: boolean; length: number; first: number }> = [];
    client.on("message", (data: Buffer, isBinary) => got.push({ binary: isBinary, length: data.length, first: data[0]! }));
    const code = await new Promise<number>((r) => client.on("close", (c) => r(c)));
    wss.close();
    expect(code).toBe(4001);
    expect(got).toEqual([
      { binary: true, length: 3, first: 1 },
      { binary: true, length: 70000, first: 7 },
      { binary: true, length: 3, first: 1 },
    ]);
  });
});
