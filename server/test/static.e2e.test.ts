// The web client over real HTTP: the page and the bundle are sent compressed as the client accepts (br, gzip,
// none), with Vary and a strong ETag per coding; If-None-Match gets a 304 without a body; the page names the
// bundle by its content hash, cached for a year, while /chat.js stays revalidated for embedders; a rebuild on
// disk is served at once under a new hash; the security headers stay.
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../src/testing.ts";
import { eventually } from "./helpers.ts";

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The bytes on the wire (still encoded). */
  readonly raw: Buffer;
}

const get = (url: string, headers: Record<string, string> = {}, method = "GET") =>
  new Promise<Reply>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, raw: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end();
  });

const decode = (r: Reply): string => {
  const coding = r.headers["content-encoding"];
  return (coding === "br" ? brotliDecompressSync(r.raw) : coding === "gzip" ? gunzipSync(r.raw) : r.raw).toString("utf8");
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8" /><title>t</title>
<script type="module" src="/chat.js"></script></head>
<body><!-- elsewhere: <script type="module" src="http://host:8080/chat.js"></script> --><chat-app></chat-app></body></html>
`;
/** A bundle-like module of about 120 KB (compressible, as minified code is). */
const bundle = (version: string) =>
  `// build ${version}\n` + Array.from({ length: 3000 }, (_, i) => `export const f${i}=(a,b)=>a*${i}+b/${(i % 7) + 1};`).join("\n");
const hashOf = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 16);
const BROWSER = { "accept-encoding": "gzip, deflate, br, zstd" };

describe("the web client over HTTP", () => {
  let dir: string;
  let server: TestServer;
  let js = bundle("1");
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "protochat-static-"));
    mkdirSync(join(dir, "dist"));
    writeFileSync(join(dir, "index.html"), PAGE);
    writeFileSync(join(dir, "dist", "chat.js"), js);
    server = await startServer({ clientDir: dir });
    // The first requests of a build get gzip while Brotli is compressed in the background.
    const first = await get(`${server.httpUrl}/`, BROWSER);
    expect(["br", "gzip"]).toContain(first.headers["content-encoding"]);
    await eventually(
      async () => (await get(`${server.httpUrl}/chat.js`, BROWSER)).headers["content-encoding"] === "br",
      10_000,
      "Brotli ready",
    );
    await eventually(async () => (await get(`${server.httpUrl}/`, BROWSER)).headers["content-encoding"] === "br", 10_000, "Brotli ready");
  }, 30_000);
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a first load is compressed: the page names /chat.<hash>.js, cached for a year; a reload is two 304s at most", async () => {
    const page = await get(`${server.httpUrl}/`, BROWSER);
    expect(page.status).toBe(200);
    expect(page.headers["content-encoding"]).toBe("br");
    expect(page.headers.vary).toBe("Accept-Encoding");
    expect(page.headers["cache-control"]).toBe("no-cache");
    expect(page.headers["x-content-type-options"]).toBe("nosniff");
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(page.headers["referrer-policy"]).toBe("no-referrer");
    expect(Number(page.headers["content-length"])).toBe(page.raw.length);
    const html = decode(page);
    const hash = hashOf(js);
    expect(html).toContain(`<script type="module" src="/chat.${hash}.js"></script>`);
    // Only the page's own reference is renamed, not the example for other sites.
    expect(html).toContain(`src="http://host:8080/chat.js"`);

    const script = await get(`${server.httpUrl}/chat.${hash}.js`, BROWSER);
    expect(script.status).toBe(200);
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(script.headers["content-encoding"]).toBe("br");
    expect(script.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(script.headers["access-control-allow-origin"]).toBe("*");
    expect(script.headers["x-content-type-options"]).toBe("nosniff");
    expect(script.headers.etag).toBe(`"${hash}-br"`);
    expect(decode(script)).toBe(js);
    expect(script.raw.length).toBeLessThan(js.length / 4);

    // The reload: the page revalidates (304, no body); the hashed bundle is not even asked for.
    const again = await get(`${server.httpUrl}/`, { ...BROWSER, "if-none-match": String(page.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.raw.length).toBe(0);
    expect(again.headers.etag).toBe(page.headers.etag);
    console.log(
      `first load on the wire: page ${page.raw.length} + bundle ${script.raw.length} bytes of bodies (bundle ${js.length} uncompressed); reload: page 304, bundle from cache`,
    );
  });

  it("/chat.js, the stable name for embedders: revalidated every time, 304 while unchanged; each coding its own ETag", async () => {
    const br = await get(`${server.httpUrl}/chat.js`, BROWSER);
    expect(br.headers["cache-control"]).toBe("no-cache");
    expect(br.headers["access-control-allow-origin"]).toBe("*");
    expect(br.headers["content-encoding"]).toBe("br");
    const gz = await get(`${server.httpUrl}/chat.js`, { "accept-encoding": "gzip" });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(decode(gz)).toBe(js);
    const refused = await get(`${server.httpUrl}/chat.js`, { "accept-encoding": "br;q=0, gzip;q=0.5" });
    expect(refused.headers["content-encoding"]).toBe("gzip");
    const plain = await get(`${server.httpUrl}/chat.js`);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.headers.vary).toBe("Accept-Encoding");
    expect(plain.raw.toString("utf8")).toBe(js);
    const etags = new Set([br.headers.etag, gz.headers.etag, plain.headers.etag]);
    expect(etags.size).toBe(3);
    for (const tag of etags) expect(tag).toMatch(/^"[0-9a-f]{16}(-br|-gzip)?"$/);

    const notModified = await get(`${server.httpUrl}/chat.js`, { ...BROWSER, "if-none-match": String(br.headers.etag) });
    expect(notModified.status).toBe(304);
    expect(notModified.raw.length).toBe(0);
    expect(notModified.headers.etag).toBe(br.headers.etag);
    expect(notModified.headers["cache-control"]).toBe("no-cache");
    // A cached gzip copy is still good for a client that now also takes br: no download.
    expect((await get(`${server.httpUrl}/chat.js`, { ...BROWSER, "if-none-match": `W/${String(gz.headers.etag)}` })).status).toBe(304);
    // ... but not for a client that no longer takes gzip.
    expect((await get(`${server.httpUrl}/chat.js`, { "if-none-match": String(gz.headers.etag) })).status).toBe(200);
    expect((await get(`${server.httpUrl}/chat.js`, { ...BROWSER, "if-none-match": `"0000000000000000-br"` })).status).toBe(200);

    const head = await get(`${server.httpUrl}/chat.js`, BROWSER, "HEAD");
    expect(head.status).toBe(200);
    expect(head.raw.length).toBe(0);
    expect(Number(head.headers["content-length"])).toBe(br.raw.length);
  });

  it("a rebuild is served at once under a new hash; an old hashed name gets the current bundle, not cached", async () => {
    const oldHash = hashOf(js);
    const before = await get(`${server.httpUrl}/chat.js`, BROWSER);
    js = bundle("second");
    writeFileSync(join(dir, "dist", "chat.js"), js);
    const after = await get(`${server.httpUrl}/chat.js`, { ...BROWSER, "if-none-match": String(before.headers.etag) });
    expect(after.status).toBe(200);
    expect(["br", "gzip"]).toContain(after.headers["content-encoding"]);
    expect(decode(after)).toBe(js);
    const newHash = hashOf(js);
    expect(decode(await get(`${server.httpUrl}/`, BROWSER))).toContain(`src="/chat.${newHash}.js"`);
    const stale = await get(`${server.httpUrl}/chat.${oldHash}.js`, BROWSER);
    expect(stale.status).toBe(200);
    expect(stale.headers["cache-control"]).toBe("no-cache");
    expect(decode(stale)).toBe(js);
    expect((await get(`${server.httpUrl}/chat.${newHash}.js`, BROWSER)).headers["cache-control"]).toBe(
      "public, max-age=31536000, immutable",
    );
    expect((await get(`${server.httpUrl}/chat.zzzz.js`, BROWSER)).status).toBe(404);
  });

  it("a client that is not built answers 404 with the way to build it", async () => {
    rmSync(join(dir, "dist", "chat.js"));
    const missing = await get(`${server.httpUrl}/chat.js`, BROWSER);
    expect(missing.status).toBe(404);
    expect(missing.raw.toString("utf8")).toContain("npm run build:client");
    // The page still loads and names the stable URL.
    expect(decode(await get(`${server.httpUrl}/`, BROWSER))).toContain(`src="/chat.js"`);
    writeFileSync(join(dir, "dist", "chat.js"), js);
    expect((await get(`${server.httpUrl}/chat.js`, BROWSER)).status).toBe(200);
  });
});
