// The file endpoints of the HTTP server: POST /v1/uploads (a streamed body, checked and stored) and
// GET/HEAD /v1/files/{id} and /v1/files/{id}/thumbnail (members of the conversation only). Both take the
// session token as `Authorization: Bearer`; see docs/protocol.md "Files" for every status and header.
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { Cause, Effect } from "effect";
import { Accounts } from "../auth/accounts.ts";
import { ServerConfig } from "../config.ts";
import { Presence } from "../presence/presence.ts";
import { usernameKey } from "../store/store.ts";
import { tokenFrom } from "../transport/server.ts";
import { BlobStore, parseConversation, type UploadRecord } from "./blob-store.ts";
import { attachmentInit } from "./files.ts";
import { INLINE_IMAGE_TYPES, inspect } from "./inspect.ts";

/** Uploads one user may have in progress at once on one node (429 beyond). */
export const MAX_PARALLEL_PER_USER = 4;

/** Bytes per read from the blob store while a download is streamed. */
const SLICE = 1 << 20;

type Json = Record<string, unknown>;

const send = (res: ServerResponse, status: number, body: Json, headers: Record<string, string> = {}) => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
};
const fail = (res: ServerResponse, status: number, error: string, message: string, headers: Record<string, string> = {}) =>
  send(res, status, { error, message }, headers);

/** A file name as shown and offered for download: the last path segment, NFC, no control characters, at most 255 bytes. */
export const cleanFileName = (raw: string | null): string => {
  const base = (raw ?? "").normalize("NFC").split(/[/\\]/).pop() ?? "";
  let name = base.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}"]/gu, "").trim();
  while (Buffer.byteLength(name) > 255) name = Array.from(name).slice(0, -1).join("");
  return name === "" || name === "." || name === ".." ? "file" : name;
};

/** `Content-Disposition` with an ASCII fallback and the UTF-8 name (RFC 6266 / 5987). */
const disposition = (kind: "inline" | "attachment", name: string) =>
  `${kind}; filename="${name.replace(/[^\x20-\x7e]|["\\%]/g, "_")}"; filename*=UTF-8''${encodeURIComponent(name)}`;

/** One `bytes=` range of a file of `size` bytes: [start, end] inclusive, "unsatisfiable", or undefined to serve it whole. */
export const parseRange = (header: string | undefined, size: number): readonly [number, number] | "unsatisfiable" | undefined => {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // several ranges or another unit: the whole file
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size - 1];
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return [start, end];
};

export const makeFileRoutes = Effect.gen(function* () {
  const config = yield* ServerConfig;
  const accounts = yield* Accounts;
  const blobs = yield* BlobStore;
  const presence = yield* Presence;
  const context = yield* Effect.context<never>();
  const run = Effect.runPromiseExitWith(context);
  // Uploads in progress. Embedded: <data-dir>/files/tmp, where what a killed process left (never served: only a
  // finished upload gets a record) is removed at the next start. With --database-url nothing is written to the data
  // dir: a directory of this process under the OS temp dir, removed when the server stops.
  const tmp =
    config.databaseUrl === ""
      ? join(config.dataDir, "files", "tmp")
      : yield* Effect.promise(() => mkdtemp(join(tmpdir(), "protochat-uploads-")));
  yield* Effect.promise(async () => {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
  });
  if (config.databaseUrl !== "") yield* Effect.addFinalizer(() => Effect.promise(() => rm(tmp, { recursive: true, force: true })));

  /** Uploads in progress on this node, per user (username key). */
  const inFlight = new Map<string, number>();

  /** The user behind the request's bearer token; else the response is sent and undefined returned. */
  const authenticate = async (req: IncomingMessage, res: ServerResponse): Promise<string | undefined> => {
    const token = tokenFrom(req.headers.authorization, new URL("http://localhost"));
    if (token === undefined || token === "invalid") {
      fail(res, 401, "unauthenticated", "send the session token as Authorization: Bearer <token>", {
        "WWW-Authenticate": 'Bearer realm="protochat"',
      });
      return undefined;
    }
    const exit = await run(accounts.authenticateToken(token));
    if (exit._tag === "Success") return exit.value.username;
    const error = Cause.findErrorOption(exit.cause);
    if (error._tag === "Some" && error.value._tag === "Unauthenticated") {
      fail(res, 401, "unauthenticated", "the session token is invalid or expired", {
        "WWW-Authenticate": 'Bearer realm="protochat", error="invalid_token"',
      });
    } else fail(res, 503, "unavailable", "storage is unavailable, retry later", { "Retry-After": "1" });
    return undefined;
  };

  const storageOrFail = async <A>(res: ServerResponse, effect: Effect.Effect<A, unknown>): Promise<{ readonly value: A } | undefined> => {
    const exit = await run(effect);
    if (exit._tag === "Success") return { value: exit.value };
    if (!Cause.hasFails(exit.cause)) await run(Effect.logError("file request failed", { cause: Cause.pretty(exit.cause) }));
    fail(res, 503, "unavailable", "storage is unavailable, retry later", { "Retry-After": "1" });
    return undefined;
  };

  type Received =
    | { readonly ok: true; readonly size: number; readonly sha256: string }
    | { readonly ok: false; readonly why: "too-large" | "stalled" | "aborted" | "io" };
  /** Reads the body into `path`, at most `limit` bytes; the hash and size of what arrived, or why it stopped. */
  const receive = (req: IncomingMessage, path: string, limit: number) =>
    new Promise<Received>((resolve) => {
      const out = createWriteStream(path, { flags: "wx", mode: 0o600 });
      const hash = createHash("sha256");
      let size = 0;
      let done = false;
      const finish = (result: Received) => {
        if (done) return;
        done = true;
        req.setTimeout(0);
        if (!result.ok) {
          req.unpipe(out);
          out.destroy();
          req.resume();
        }
        resolve(result);
      };
      req.setTimeout(config.uploadIdleMs, () => finish({ ok: false, why: "stalled" }));
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) finish({ ok: false, why: "too-large" });
        else hash.update(chunk);
      });
      req.on("aborted", () => finish({ ok: false, why: "aborted" }));
      req.on("error", () => finish({ ok: false, why: "aborted" }));
      out.on("error", () => finish({ ok: false, why: "io" }));
      out.on("finish", () => {
        if (!done && !req.readableAborted && req.complete) finish({ ok: true, size, sha256: hash.digest("hex") });
        else finish({ ok: false, why: "aborted" });
      });
      req.pipe(out);
    });

  const upload = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const username = await authenticate(req, res);
    if (username === undefined) return req.resume();
    const ownerKey = usernameKey(username);
    const declared = req.headers["content-length"] === undefined ? undefined : Number(req.headers["content-length"]);
    const tooLarge = () =>
      fail(res, 413, "file-too-large", `a file may have at most ${config.maxUploadBytes} bytes`, { Connection: "close" });
    if (declared !== undefined && declared > config.maxUploadBytes) {
      tooLarge();
      req.resume();
      return;
    }
    // At most a few uploads of one user at a time on this node (each holds a connection, a temp file, maybe an image decode).
    if ((inFlight.get(ownerKey) ?? 0) >= MAX_PARALLEL_PER_USER) {
      fail(res, 429, "rate-limited", `at most ${MAX_PARALLEL_PER_USER} uploads at a time`, { "Retry-After": "1", Connection: "close" });
      return req.resume();
    }
    inFlight.set(ownerKey, (inFlight.get(ownerKey) ?? 0) + 1);
    try {
      await receiveAndStore(req, res, url, username, ownerKey, declared, tooLarge);
    } finally {
      const left = (inFlight.get(ownerKey) ?? 1) - 1;
      if (left > 0) inFlight.set(ownerKey, left);
      else inFlight.delete(ownerKey);
    }
  };

  const receiveAndStore = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    username: string,
    ownerKey: string,
    declared: number | undefined,
    tooLarge: () => void,
  ) => {
    const now = Date.now();
    const counts = await storageOrFail(res, Effect.all([blobs.countSince(ownerKey, now - 60_000), blobs.usage(ownerKey)]));
    if (counts === undefined) return req.resume();
    const [recent, used] = counts.value;
    if (recent >= config.uploadsPerMin) {
      fail(res, 429, "rate-limited", `at most ${config.uploadsPerMin} uploads per minute`, { "Retry-After": "60", Connection: "close" });
      return req.resume();
    }
    const room = config.uploadQuotaBytes - used;
    if (room <= 0 || (declared !== undefined && declared > room)) {
      fail(res, 413, "quota-exceeded", `your uploads may hold at most ${config.uploadQuotaBytes} bytes in total`, { Connection: "close" });
      return req.resume();
    }
    const id = randomBytes(16).toString("base64url");
    const raw = join(tmp, `${id}.upload`);
    const processed = join(tmp, `${id}.image`);
    try {
      const got = await receive(req, raw, Math.min(config.maxUploadBytes, room + 1));
      if (!got.ok) {
        if (got.why === "too-large") {
          if (got.why === "too-large" && config.maxUploadBytes > room)
            fail(res, 413, "quota-exceeded", `your uploads may hold at most ${config.uploadQuotaBytes} bytes in total`, {
              Connection: "close",
            });
          else tooLarge();
        } else if (got.why === "stalled")
          fail(res, 408, "upload-stalled", `no bytes arrived for ${config.uploadIdleMs} ms`, { Connection: "close" });
        else if (got.why === "io")
          fail(res, 503, "unavailable", "the upload could not be written, retry later", { "Retry-After": "1", Connection: "close" });
        else res.destroy();
        return;
      }
      if (got.size === 0) return fail(res, 400, "empty-file", "the request body (the file) is empty");
      const seen = await inspect(raw);
      let sha256 = got.sha256;
      let size = got.size;
      let contentPath = raw;
      if (seen.image !== undefined) {
        await writeFile(processed, seen.image, { mode: 0o600 });
        contentPath = processed;
        sha256 = createHash("sha256").update(seen.image).digest("hex");
        size = seen.image.length;
      }
      const record: UploadRecord = {
        id,
        owner: username,
        ownerKey,
        fileName: cleanFileName(url.searchParams.get("name")),
        mediaType: seen.mediaType,
        sizeBytes: size,
        width: seen.width,
        height: seen.height,
        sha256,
        thumbSha256: seen.thumbnail === undefined ? "" : createHash("sha256").update(seen.thumbnail).digest("hex"),
        createdAtMs: now,
        conversation: null,
        clientMessageId: null,
        position: 0,
      };
      // Answered only once the bytes and the record are durable: an id the client gets can always be attached.
      const stored = await storageOrFail(res, blobs.put(record, contentPath, seen.thumbnail));
      if (stored === undefined) return;
      const a = attachmentInit(record);
      send(res, 201, { ...a, sizeBytes: record.sizeBytes, expiresAtMs: now + config.uploadTtlMs }, { Location: `/v1/files/${id}` });
    } finally {
      await rm(raw, { force: true });
      await rm(processed, { force: true });
    }
  };

  /** Whether `username` may read the upload: its uploader, or a member of the conversation it was attached in. */
  const mayRead = async (record: UploadRecord, username: string): Promise<boolean> => {
    const key = usernameKey(username);
    if (record.ownerKey === key) return true;
    const conversation = record.conversation === null ? undefined : parseConversation(record.conversation);
    if (conversation === undefined) return false;
    if (conversation._tag === "direct") return conversation.a === key || conversation.b === key;
    const exit = await run(presence.isMember(conversation.code, username));
    return exit._tag === "Success" && exit.value;
  };

  const download = async (req: IncomingMessage, res: ServerResponse, id: string, thumbnail: boolean) => {
    const username = await authenticate(req, res);
    if (username === undefined) return;
    const found = await storageOrFail(res, blobs.find(id));
    if (found === undefined) return;
    const record = found.value;
    // Unknown and not yours look the same: an id says nothing about whether the file exists.
    const notFound = () => fail(res, 404, "not-found", "no such file");
    if (record === undefined || !(await mayRead(record, username))) return notFound();
    if (thumbnail && record.thumbSha256 === "") return notFound();
    const sha = thumbnail ? record.thumbSha256 : record.sha256;
    const size = thumbnail ? undefined : record.sizeBytes;
    const etag = `"${sha.slice(0, 32)}"`;
    const inline = thumbnail || INLINE_IMAGE_TYPES.has(record.mediaType);
    const type = thumbnail
      ? "image/jpeg"
      : inline
        ? record.mediaType
        : record.mediaType.startsWith("text/")
          ? "application/octet-stream"
          : record.mediaType;
    const headers: Record<string, string> = {
      "Content-Type": type,
      "Content-Disposition": disposition(
        inline ? "inline" : "attachment",
        thumbnail ? `thumbnail-${record.fileName}.jpg` : record.fileName,
      ),
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "sandbox; default-src 'none'",
      "Cross-Origin-Resource-Policy": "same-origin",
      "Cache-Control": "private, no-cache",
      "Accept-Ranges": "bytes",
      ETag: etag,
    };
    const match = req.headers["if-none-match"];
    if (match !== undefined && match.split(",").some((t) => t.trim() === etag || t.trim() === `W/${etag}`)) {
      res.writeHead(304, headers).end();
      return;
    }
    let total = size;
    if (total === undefined) {
      // A thumbnail's size is not in the record: read it whole (it is small).
      const whole = await storageOrFail(res, blobs.read(sha, 0, 10 * 1024 * 1024));
      if (whole === undefined) return;
      res.writeHead(200, { ...headers, "Content-Length": whole.value.length });
      res.end(req.method === "HEAD" ? undefined : whole.value);
      return;
    }
    const ifRange = req.headers["if-range"];
    const range = ifRange === undefined || ifRange === etag ? parseRange(req.headers.range, total) : undefined;
    if (range === "unsatisfiable") {
      res.writeHead(416, { ...headers, "Content-Range": `bytes */${total}` }).end();
      return;
    }
    const [start, end] = range ?? [0, total - 1];
    res.writeHead(range ? 206 : 200, {
      ...headers,
      "Content-Length": end - start + 1,
      ...(range ? { "Content-Range": `bytes ${start}-${end}/${total}` } : {}),
    });
    if (req.method === "HEAD") return res.end();
    for (let at = start; at <= end; at += SLICE) {
      const part = await run(blobs.read(sha, at, Math.min(end, at + SLICE - 1)));
      if (part._tag === "Failure" || res.destroyed) return res.destroy();
      if (!res.write(part.value)) await new Promise((resolve) => res.once("drain", resolve).once("close", resolve));
    }
    res.end();
  };

  /** Handles the request when it is one of ours (true), else leaves it alone (false). */
  const handle = (req: IncomingMessage, res: ServerResponse, url: URL): boolean => {
    const onError = (error: unknown) => {
      void run(Effect.logError("file request failed", { cause: String(error) }));
      if (!res.headersSent) fail(res, 500, "internal", "internal error");
      else res.destroy();
    };
    if (url.pathname === "/v1/uploads") {
      if (req.method !== "POST") {
        res.writeHead(405, { Allow: "POST" }).end();
        return true;
      }
      upload(req, res, url).catch(onError);
      return true;
    }
    const file = /^\/v1\/files\/([A-Za-z0-9_-]{1,64})(\/thumbnail)?$/.exec(url.pathname);
    if (file === null) return false;
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return true;
    }
    download(req, res, file[1]!, file[2] !== undefined).catch(onError);
    return true;
  };
  return { handle };
});
