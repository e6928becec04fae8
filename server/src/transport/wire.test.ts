// Pre-framed broadcasts must be byte-identical to what ws itself would send, at every length class; a backed-up
// socket's drain is signalled by its 'drain' event, not found by polling.
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

describe("whenDrained", () => {
  it("calls back only once a client that stopped reading has read again; at once when nothing is buffered", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const port = (wss.address() as { port: number }).port;
    const serverSide = new Promise<WebSocket>((r) => wss.once("connection", r));
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((r) => client.once("open", r));
    const ws = await serverSide;
    const sink = sinkOf(ws);

    let idle = false;
    sink.whenDrained(() => (idle = true));
    await new Promise((r) => setTimeout(r, 0));
    expect(idle).toBe(true);

    client.pause();
    let received = 0;
    client.on("message", (data: Buffer) => (received += data.length));
    // More than loopback's socket buffers can take while nobody reads.
    const big = frameBinary(new Uint8Array(1024 * 1024));
    for (let i = 0; i < 32; i++) sink.write(big);
    let drained = false;
    sink.whenDrained(() => (drained = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.bufferedAmount).toBeGreaterThan(0);
    expect(drained).toBe(false);
    // A cancelled wait never calls back.
    let cancelledCalled = false;
    sink.whenDrained(() => (cancelledCalled = true))();

    client.resume();
    const deadline = Date.now() + 10_000;
    while (!drained && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(true);
    expect(sink.bufferedAmount).toBe(0);
    expect(cancelledCalled).toBe(false);
    client.terminate();
    wss.close();
    expect(received).toBeGreaterThan(0);
  });

  it("never calls back for a socket destroyed while backed up (the connection is ending)", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((r) => wss.once("listening", r));
    const port = (wss.address() as { port: number }).port;
    const serverSide = new Promise<WebSocket>((r) => wss.once("connection", r));
    const client = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((r) => client.once("open", r));
    const ws = await serverSide;
    const sink = sinkOf(ws);
    client.pause();
    const big = frameBinary(new Uint8Array(1024 * 1024));
    for (let i = 0; i < 32; i++) sink.write(big);
    let called = 0;
    sink.whenDrained(() => called++);
    await new Promise((r) => setTimeout(r, 100));
    ws.terminate();
    await new Promise((r) => setTimeout(r, 100));
    sink.whenDrained(() => called++);
    await new Promise((r) => setTimeout(r, 100));
    expect(called).toBe(0);
    client.terminate();
    wss.close();
  });
});
