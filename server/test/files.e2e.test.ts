// Attachments over real HTTP and WebSocket on one server: upload, attach in a room and a direct message, download
// by members only, the refusals (401, 404, 413, 429, 408) with their headers, content checked from the bytes
// (an HTML or SVG file is only ever a download; a JPEG loses its GPS EXIF), and nothing left of an aborted,
// stalled or unattached upload.
import { readdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import { HistoryDirection } from "../../proto/gen/es/chat/v1/message_pb.js";
import { startServer, type TestServer } from "../src/testing.ts";
import { errorCode, eventually, sleep } from "./helpers.ts";
import { registered, type WireClient } from "./wire-client.ts";

const fast = { rateLimitPerSec: 1000, rateLimitBurst: 1000, registerPerIpPerMin: 1000, loginPerIpPerMin: 1000 };
const MAX = 256 * 1024;

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ ...fast, maxUploadBytes: MAX, uploadsPerMin: 12, uploadIdleMs: 400, uploadTtlMs: 60_000 });
});
afterAll(() => server.close());

interface Uploaded {
  readonly id: string;
  readonly fileName: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
  readonly width: number;
  readonly height: number;
  readonly thumbnailUrl: string;
}

const upload = async (token: string | undefined, body: Uint8Array, name: string, contentType = "application/octet-stream") => {
  const res = await fetch(`${server.httpUrl}/v1/uploads?name=${encodeURIComponent(name)}`, {
    method: "POST",
    headers: { "Content-Type": contentType, ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) },
    body,
  });
  return { res, json: (await res.json()) as Uploaded & { error?: string } };
};
const get = (token: string | undefined, path: string, headers: Record<string, string> = {}) =>
  fetch(`${server.httpUrl}${path}`, { headers: { ...headers, ...(token === undefined ? {} : { Authorization: `Bearer ${token}` }) } });

const png = (width: number, height: number) =>
  sharp({ create: { width, height, channels: 4, background: "#ff8800" } })
    .png()
    .toBuffer();
/** Tag 0x8825: the pointer to the GPS IFD, in either byte order. */
const hasGpsPointer = (exif: Buffer | undefined) =>
  exif !== undefined && (exif.includes(Buffer.from([0x88, 0x25])) || exif.includes(Buffer.from([0x25, 0x88])));

let n = 0;
const cmid = () => `f${++n}`;

describe("attachments in a room", () => {
  let alice: Awaited<ReturnType<typeof registered>>;
  let bob: Awaited<ReturnType<typeof registered>>;
  let carol: Awaited<ReturnType<typeof registered>>;
  let code: string;
  beforeAll(async () => {
    alice = await registered(server.wsUrl);
    bob = await registered(server.wsUrl);
    carol = await registered(server.wsUrl);
    code = (await alice.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
    await bob.client.call({ case: "joinRoom", value: { code } }, "roomJoined");
  });
  afterAll(() => [alice, bob, carol].forEach((u) => u.client.close()));

  const sendWith = (c: WireClient, ids: string[], text = "", id = cmid()) =>
    c.request({ case: "sendMessage", value: { roomCode: code, clientMessageId: id, text, attachmentIds: ids } });

  it("an image is uploaded, attached, pushed with its metadata, and downloaded by a member with safe headers", async () => {
    const image = await png(800, 600);
    const { res, json } = await upload(alice.auth.sessionToken, image, "../../etc/sunset.png", "text/html");
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`/v1/files/${json.id}`);
    expect(json).toMatchObject({
      fileName: "sunset.png",
      mediaType: "image/png",
      width: 800,
      height: 600,
      thumbnailUrl: `/v1/files/${json.id}/thumbnail`,
    });

    const pushed = bob.client.push("message", (m) => m.attachments.length > 0);
    const ack = await sendWith(alice.client, [json.id], "look");
    expect(ack.kind.case).toBe("sendAck");
    const message = await pushed;
    expect(message.text).toBe("look");
    expect(message.attachments[0]).toMatchObject({ id: json.id, fileName: "sunset.png", mediaType: "image/png", width: 800, height: 600 });
    expect(message.attachments[0]!.sizeBytes).toBe(BigInt(json.sizeBytes));

    const file = await get(bob.auth.sessionToken, `/v1/files/${json.id}`);
    expect(file.status).toBe(200);
    expect(file.headers.get("content-type")).toBe("image/png");
    expect(file.headers.get("content-disposition")).toMatch(/^inline; /);
    expect(file.headers.get("x-content-type-options")).toBe("nosniff");
    expect(file.headers.get("content-security-policy")).toMatch(/^sandbox/);
    const body = Buffer.from(await file.arrayBuffer());
    expect(body.length).toBe(json.sizeBytes);
    expect((await sharp(body).metadata()).width).toBe(800);

    const etag = file.headers.get("etag")!;
    expect((await get(bob.auth.sessionToken, `/v1/files/${json.id}`, { "If-None-Match": etag })).status).toBe(304);
    const part = await get(bob.auth.sessionToken, `/v1/files/${json.id}`, { Range: "bytes=0-9" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 0-9/${json.sizeBytes}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(0, 10));
    expect((await get(bob.auth.sessionToken, `/v1/files/${json.id}`, { Range: `bytes=${json.sizeBytes}-` })).status).toBe(416);

    const thumb = await get(bob.auth.sessionToken, json.thumbnailUrl);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/jpeg");
    const t = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(Math.max(t.width, t.height)).toBeLessThanOrEqual(320);

    // The history carries it too.
    const page = await bob.client.call({ case: "history", value: { roomCode: code, direction: HistoryDirection.BACKWARD } }, "historyPage");
    expect(page.messages.at(-1)!.attachments.map((a) => a.id)).toEqual([json.id]);
  });

  it("a non-member gets 404, a request without or with a bad token 401", async () => {
    const { json } = await upload(
      alice.auth.sessionToken,
      Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n", "latin1"),
      "report.pdf",
    );
    expect(json.mediaType).toBe("application/pdf");
    expect(json.thumbnailUrl).toBe("");
    expect((await sendWith(alice.client, [json.id])).kind.case).toBe("sendAck");
    expect((await get(bob.auth.sessionToken, `/v1/files/${json.id}`)).status).toBe(200);
    const refused = await get(carol.auth.sessionToken, `/v1/files/${json.id}`);
    expect(refused.status).toBe(404);
    expect((await get(carol.auth.sessionToken, `/v1/files/${"x".repeat(22)}`)).status).toBe(404);
    const anonymous = await get(undefined, `/v1/files/${json.id}`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await get("not-a-token", `/v1/files/${json.id}`)).status).toBe(401);
    expect((await upload(undefined, Buffer.from("hello"), "a.txt")).res.status).toBe(401);
  });

  it("a PDF, an HTML page and an SVG are served only as downloads, with nosniff, never inline", async () => {
    for (const [name, bytes] of [
      ["page.html", Buffer.from("<!doctype html><html><body><script>alert(1)</script></body></html>")],
      ["pic.svg", Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')],
    ] as const) {
      const { json } = await upload(alice.auth.sessionToken, bytes, name, name.endsWith("svg") ? "image/svg+xml" : "text/html");
      expect(json.mediaType).not.toMatch(/html|svg/);
      expect(json.thumbnailUrl).toBe("");
      expect((await sendWith(alice.client, [json.id])).kind.case).toBe("sendAck");
      const file = await get(bob.auth.sessionToken, `/v1/files/${json.id}`);
      expect(file.status).toBe(200);
      expect(file.headers.get("content-type")).not.toMatch(/html|svg/);
      expect(file.headers.get("content-disposition")).toBe(`attachment; filename="${name}"; filename*=UTF-8''${name}`);
      expect(file.headers.get("x-content-type-options")).toBe("nosniff");
      expect(file.headers.get("content-security-policy")).toMatch(/^sandbox/);
      expect(Buffer.from(await file.arrayBuffer())).toEqual(bytes);
    }
  });

  it("a JPEG with GPS EXIF is stored and served without any EXIF", async () => {
    const jpeg = await sharp({ create: { width: 64, height: 48, channels: 3, background: "#3366cc" } })
      .withExif({
        IFD0: { Copyright: "Secret Place" },
        IFD3: { GPSLatitudeRef: "N", GPSLatitude: "48/1 51/1 2964/100", GPSLongitudeRef: "E", GPSLongitude: "2/1 17/1 4032/100" },
      })
      .jpeg()
      .toBuffer();
    expect(hasGpsPointer((await sharp(jpeg).metadata()).exif)).toBe(true);
    const { json } = await upload(alice.auth.sessionToken, jpeg, "holiday.jpg");
    expect(json).toMatchObject({ mediaType: "image/jpeg", width: 64, height: 48 });
    expect((await sendWith(alice.client, [json.id])).kind.case).toBe("sendAck");
    for (const path of [`/v1/files/${json.id}`, json.thumbnailUrl]) {
      const body = Buffer.from(await (await get(bob.auth.sessionToken, path)).arrayBuffer());
      const meta = await sharp(body).metadata();
      expect(meta.format).toBe("jpeg");
      expect(meta.exif).toBeUndefined();
      expect(body.includes("Secret Place")).toBe(false);
    }
  });

  it("only the uploader attaches, once; a retry of the same message may; text or an attachment is required", async () => {
    const { json } = await upload(alice.auth.sessionToken, await png(10, 10), "a.png");
    expect(errorCode(await sendWith(bob.client, [json.id], "mine?"))).toBe(ErrorCode.NOT_FOUND);
    expect(errorCode(await sendWith(alice.client, ["nonexistent"], "x"))).toBe(ErrorCode.NOT_FOUND);
    const id = cmid();
    const first = await sendWith(alice.client, [json.id], "", id);
    expect(first.kind.case).toBe("sendAck");
    const retry = await sendWith(alice.client, [json.id], "", id);
    expect(retry.kind.case === "sendAck" && retry.kind.value.duplicate).toBe(true);
    expect(errorCode(await sendWith(alice.client, [json.id], "again"))).toBe(ErrorCode.NOT_FOUND);
    expect(errorCode(await sendWith(alice.client, [], "  "))).toBe(ErrorCode.INVALID_ARGUMENT);
    // The contract's limit: at most 10 attachments.
    expect(
      errorCode(
        await sendWith(
          alice.client,
          Array.from({ length: 11 }, (_, i) => `id${i}`),
          "many",
        ),
      ),
    ).toBe(ErrorCode.INVALID_ARGUMENT);
  });

  it("deleting a message deletes its files: the members get 404 and the bytes are gone", async () => {
    const image = await png(31, 17);
    const { json } = await upload(alice.auth.sessionToken, image, "gone.png");
    const id = cmid();
    const ack = await sendWith(alice.client, [json.id], "soon deleted", id);
    expect((await get(bob.auth.sessionToken, `/v1/files/${json.id}`)).status).toBe(200);
    const blobs = () =>
      readdirSync(join(server.dataDir, "files", "blobs")).flatMap((d) => readdirSync(join(server.dataDir, "files", "blobs", d))).length;
    const before = blobs();
    const seq = ack.kind.case === "sendAck" ? ack.kind.value.seq : 0n;
    const deleted = await alice.client.request({
      case: "deleteMessage",
      value: { conversation: { case: "roomCode", value: code }, targetSeq: seq, clientMessageId: cmid() },
    });
    expect(deleted.kind.case).toBe("sendAck");
    expect((await get(bob.auth.sessionToken, `/v1/files/${json.id}`)).status).toBe(404);
    expect((await get(alice.auth.sessionToken, json.thumbnailUrl)).status).toBe(404);
    expect(blobs()).toBe(before - 2); // the image and its thumbnail
    const page = await bob.client.call({ case: "history", value: { roomCode: code, direction: HistoryDirection.BACKWARD } }, "historyPage");
    expect(page.messages.find((m) => m.seq === seq)?.attachments).toEqual([]);
  });

  it("an upload past the size limit is refused with 413 and leaves nothing", async () => {
    const before = readdirSync(join(server.dataDir, "files", "uploads")).length;
    const { res, json } = await upload(alice.auth.sessionToken, Buffer.alloc(MAX + 1, 7), "big.bin");
    expect(res.status).toBe(413);
    expect(json.error).toBe("file-too-large");
    // Without Content-Length (chunked): stopped while streaming, same answer.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${server.httpUrl}/v1/uploads?name=big.bin`,
        { method: "POST", headers: { Authorization: `Bearer ${alice.auth.sessionToken}`, "Transfer-Encoding": "chunked" } },
        (r) => {
          r.resume();
          resolve(r.statusCode!);
        },
      );
      req.on("error", reject);
      for (let i = 0; i < 5; i++) req.write(Buffer.alloc(64 * 1024, 1));
      req.end();
    }).catch(() => 413);
    expect(chunked).toBe(413);
    await sleep(50);
    expect(readdirSync(join(server.dataDir, "files", "uploads")).length).toBe(before);
    expect(readdirSync(join(server.dataDir, "files", "tmp"))).toEqual([]);
  });

  it("a stalled upload is cut off with 408 and an aborted one leaves nothing", async () => {
    const before = readdirSync(join(server.dataDir, "files", "uploads")).length;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${server.httpUrl}/v1/uploads?name=slow.bin`,
        { method: "POST", headers: { Authorization: `Bearer ${carol.auth.sessionToken}`, "Content-Length": "100000" } },
        (r) => {
          r.resume();
          resolve(r.statusCode!);
        },
      );
      req.on("error", reject);
      req.write(Buffer.alloc(1000, 1)); // then nothing: stalls
    });
    expect(status).toBe(408);
    const aborted = request(`${server.httpUrl}/v1/uploads?name=gone.bin`, {
      method: "POST",
      headers: { Authorization: `Bearer ${carol.auth.sessionToken}`, "Content-Length": "100000" },
    });
    aborted.on("error", () => undefined);
    aborted.write(Buffer.alloc(5000, 1));
    await sleep(100);
    aborted.destroy();
    await eventually(() => readdirSync(join(server.dataDir, "files", "tmp")).length === 0, 3000, "temporary files removed");
    expect(readdirSync(join(server.dataDir, "files", "uploads")).length).toBe(before);
  });

  it("at most 4 uploads of one user at a time: a fifth is refused with 429", async () => {
    const erin = await registered(server.wsUrl);
    const held = Array.from({ length: 4 }, (_, i) => {
      const r = request(`${server.httpUrl}/v1/uploads?name=h${i}.bin`, {
        method: "POST",
        headers: { Authorization: `Bearer ${erin.auth.sessionToken}`, "Content-Length": "10000" },
      });
      r.on("error", () => undefined);
      r.on("response", (res) => res.resume());
      r.write(Buffer.alloc(100, 1));
      return r;
    });
    await sleep(100);
    const fifth = await upload(erin.auth.sessionToken, Buffer.from("one more"), "fifth.txt");
    expect(fifth.res.status).toBe(429);
    expect(fifth.res.headers.get("retry-after")).toBe("1");
    for (const r of held) r.destroy();
    await sleep(100);
    expect((await upload(erin.auth.sessionToken, Buffer.from("now fine"), "ok.txt")).res.status).toBe(201);
    erin.client.close();
  });

  it("uploads per user per minute are limited with 429", async () => {
    const dave = await registered(server.wsUrl);
    const statuses: number[] = [];
    for (let i = 0; i < 13; i++) statuses.push((await upload(dave.auth.sessionToken, Buffer.from(`file ${i}`), `f${i}.txt`)).res.status);
    expect(statuses.slice(0, 12).every((s) => s === 201)).toBe(true);
    expect(statuses[12]).toBe(429);
    dave.client.close();
  });
});

describe("attachments in a direct conversation", () => {
  it("only the two people of the conversation can download; the history carries the attachment", async () => {
    const alice = await registered(server.wsUrl);
    const bob = await registered(server.wsUrl);
    const mallory = await registered(server.wsUrl);
    const { json } = await upload(alice.auth.sessionToken, await png(40, 30), "dm.png");
    const pushed = bob.client.push("directMessage");
    const ack = await alice.client.request({
      case: "sendDirect",
      value: { recipient: bob.username, clientMessageId: cmid(), text: "", attachmentIds: [json.id] },
    });
    expect(ack.kind.case).toBe("directAck");
    expect((await pushed).attachments.map((a) => a.id)).toEqual([json.id]);
    expect((await get(bob.auth.sessionToken, `/v1/files/${json.id}`)).status).toBe(200);
    expect((await get(alice.auth.sessionToken, `/v1/files/${json.id}`)).status).toBe(200);
    expect((await get(mallory.auth.sessionToken, `/v1/files/${json.id}`)).status).toBe(404);
    expect((await get(mallory.auth.sessionToken, json.thumbnailUrl)).status).toBe(404);
    const page = await bob.client.call({ case: "directHistory", value: { peer: alice.username } }, "directHistoryPage");
    expect(page.messages.at(-1)!.attachments[0]).toMatchObject({ id: json.id, width: 40, height: 30 });
    [alice, bob, mallory].forEach((u) => u.client.close());
  });
});

describe("unattached uploads", () => {
  it("are deleted after the TTL, and can no longer be attached", async () => {
    const short = await startServer({ ...fast, uploadTtlMs: 1000 });
    try {
      const alice = await registered(short.wsUrl);
      const res = await fetch(`${short.httpUrl}/v1/uploads?name=a.txt`, {
        method: "POST",
        headers: { Authorization: `Bearer ${alice.auth.sessionToken}` },
        body: "temporary",
      });
      const { id } = (await res.json()) as Uploaded;
      const file = () => fetch(`${short.httpUrl}/v1/files/${id}`, { headers: { Authorization: `Bearer ${alice.auth.sessionToken}` } });
      expect((await file()).status).toBe(200); // the uploader may read it before attaching
      await eventually(async () => (await file()).status === 404, 5000, "the unattached upload to be deleted");
      expect(
        readdirSync(join(short.dataDir, "files", "blobs")).flatMap((d) => readdirSync(join(short.dataDir, "files", "blobs", d))),
      ).toEqual([]);
      const code = (await alice.client.call({ case: "createRoom", value: {} }, "roomJoined")).room!.code;
      const sent = await alice.client.request({
        case: "sendMessage",
        value: { roomCode: code, clientMessageId: "late", text: "", attachmentIds: [id] },
      });
      expect(errorCode(sent)).toBe(ErrorCode.NOT_FOUND);
      alice.client.close();
    } finally {
      await short.close();
    }
  });
});
