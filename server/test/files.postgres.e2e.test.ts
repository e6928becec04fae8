// Attachments in the multi-node mode (--database-url): the bytes and records live in PostgreSQL, so a file
// uploaded through one node is attached there and downloaded through another, with the same checks, and gone
// everywhere once its message is deleted; and an unattached upload is swept with its chunks.
import { randomBytes } from "node:crypto";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type Postgres } from "../../scripts/services.ts";
import { startServer, type TestServer } from "../src/testing.ts";
import { eventually } from "./helpers.ts";
import { registered } from "./wire-client.ts";

const fast = { rateLimitPerSec: 1000, rateLimitBurst: 1000, registerPerIpPerMin: 1000, loginPerIpPerMin: 1000 };

let pg: Postgres;
let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  pg = await startPostgres();
  a = await startServer({ ...fast, databaseUrl: pg.url, uploadTtlMs: 1500 });
  b = await startServer({ ...fast, databaseUrl: pg.url, uploadTtlMs: 1500 });
}, 60_000);
afterAll(async () => {
  await a?.close();
  await b?.close();
  pg?.destroy();
});

const upload = async (base: string, token: string, body: Uint8Array, name: string) => {
  const res = await fetch(`${base}/v1/uploads?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
    body,
  });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; sizeBytes: number; thumbnailUrl: string; width: number };
};
const get = (base: string, token: string, path: string, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { headers: { ...headers, Authorization: `Bearer ${token}` } });

describe("attachments on PostgreSQL", () => {
  it("a file uploaded and attached on one node is downloaded on another, whole and by range, by the recipient only", async () => {
    const alice = await registered(a.wsUrl);
    const bob = await registered(b.wsUrl);
    const eve = await registered(b.wsUrl);
    // Over 1 MiB, so it spans several chunk rows; noise so PNG cannot compress it away.
    const raw = randomBytes(700 * 700 * 3);
    const image = await sharp(raw, { raw: { width: 700, height: 700, channels: 3 } })
      .png()
      .toBuffer();
    expect(image.length).toBeGreaterThan(1 << 20);
    const up = await upload(a.httpUrl, alice.auth.sessionToken, image, "noise.png");
    expect(up.width).toBe(700);
    const ack = await alice.client.request({
      case: "sendDirect",
      value: { recipient: bob.username, clientMessageId: "pg1", text: "noise", attachmentIds: [up.id] },
    });
    expect(ack.kind.case === "error" ? ack.kind.value.message : ack.kind.case).toBe("directAck");

    const file = await get(b.httpUrl, bob.auth.sessionToken, `/v1/files/${up.id}`);
    expect(file.status).toBe(200);
    const body = Buffer.from(await file.arrayBuffer());
    expect(body.length).toBe(up.sizeBytes);
    const decoded = await sharp(body).raw().toBuffer();
    expect(decoded.equals(raw)).toBe(true);
    const start = (1 << 20) - 5;
    const part = await get(b.httpUrl, bob.auth.sessionToken, `/v1/files/${up.id}`, { Range: `bytes=${start}-${start + 9}` });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(start, start + 10));
    expect((await get(b.httpUrl, bob.auth.sessionToken, up.thumbnailUrl)).status).toBe(200);
    expect((await get(b.httpUrl, eve.auth.sessionToken, `/v1/files/${up.id}`)).status).toBe(404);

    const page = await bob.client.call({ case: "directHistory", value: { peer: alice.username } }, "directHistoryPage");
    expect(page.messages.at(-1)!.attachments.map((x) => x.id)).toEqual([up.id]);

    // Deleting the message deletes the file, on every node.
    const seq = ack.kind.case === "directAck" ? ack.kind.value.seq : 0n;
    const deleted = await alice.client.request({
      case: "deleteMessage",
      value: { conversation: { case: "peer", value: bob.username }, targetSeq: seq, clientMessageId: "pg1-del" },
    });
    expect(deleted.kind.case).toBe("directAck");
    expect((await get(b.httpUrl, bob.auth.sessionToken, `/v1/files/${up.id}`)).status).toBe(404);
    expect((await get(a.httpUrl, alice.auth.sessionToken, up.thumbnailUrl)).status).toBe(404);
    [alice, bob, eve].forEach((u) => u.client.close());
  });

  it("an unattached upload is deleted after the TTL on every node", async () => {
    const carol = await registered(a.wsUrl);
    const up = await upload(a.httpUrl, carol.auth.sessionToken, Buffer.from("soon gone"), "x.txt");
    expect((await get(b.httpUrl, carol.auth.sessionToken, `/v1/files/${up.id}`)).status).toBe(200);
    await eventually(async () => (await get(b.httpUrl, carol.auth.sessionToken, `/v1/files/${up.id}`)).status === 404, 6000, "the sweep");
    carol.client.close();
  });
});
