// The outbox's byte budget for pushes, over real sockets: a room member that stops reading is closed with 4001
// once what the server holds for it (queued frames and its socket's buffer) would pass --outbox-bytes, long
// before the frame-count bound, and the others see it leave at once.
import { describe, expect, it } from "vitest";
import { CloseCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { PresenceChange } from "../../proto/gen/es/chat/v1/presence_pb.js";
import { startServer } from "../src/testing.ts";
import { connectionsSettle } from "./helpers.ts";
import { registered } from "./wire-client.ts";

const metric = async (httpUrl: string, sample: string): Promise<number> => {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
};

describe("slow consumer by bytes", () => {
  it("a member that stops reading is closed with 4001 at the byte budget; its outbox never held more", async () => {
    const BUDGET = 1024 * 1024;
    // The frame bound is far away: 100,000 frames of 4 KiB would be 400 MB.
    const server = await startServer({ outboxBytes: BUDGET, outboxFrames: 100_000, rateLimitPerSec: 100_000, rateLimitBurst: 100_000 });
    try {
      const sender = await registered(server.wsUrl);
      const slow = await registered(server.wsUrl);
      const code = (await sender.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
      await slow.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
      await sender.client.push("presence");
      slow.client.ws.pause();
      const text = "z".repeat(4000);
      let sent = 0;
      // Bounded: loopback's socket buffers take a few MB before the outbox fills; 40 MB is far beyond.
      while ((await metric(server.httpUrl, 'chat_closes_total{code="4001"}')) < 1) {
        expect(sent).toBeLessThan(10_000);
        await Promise.all(
          Array.from({ length: 100 }, () =>
            sender.client.call({ case: "sendMessage", value: { roomCode: code, clientMessageId: `s${sent++}`, text } }, "sendAck", 10_000),
          ),
        );
      }
      // The others see it leave at once, before its close handshake.
      await sender.client.push("presence", (p) => p.username === slow.username && p.change === PresenceChange.LEFT, 2000);
      slow.client.ws.resume();
      expect(await slow.client.waitClose(10_000)).toBe(CloseCode.SLOW_CONSUMER);
      await connectionsSettle(server.httpUrl, 1);
      sender.client.close();
      await connectionsSettle(server.httpUrl, 0);
      // Every connection's outbox stayed within the budget (the histogram's 1 MiB bucket holds them all).
      const count = await metric(server.httpUrl, "chat_outbox_peak_bytes_count");
      expect(count).toBe(2);
      expect(await metric(server.httpUrl, 'chat_outbox_peak_bytes_bucket{le="1048576"}')).toBe(count);
      // And the slow one did fill it: its peak is in the top bucket.
      expect(await metric(server.httpUrl, 'chat_outbox_peak_bytes_bucket{le="262144"}')).toBe(1);
      console.log(`slow member closed (4001) after ${sent} messages of 4 KB with a 1 MiB outbox budget`);
    } finally {
      await server.close();
    }
  });
});
