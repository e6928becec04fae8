// The web client's files as HTTP representations: read and compressed once per build on first use (a rebuild
// on disk is noticed by its size and mtime): gzip before the first answer, Brotli in the background (until it
// is ready a Brotli client gets gzip), each with a strong ETag per content coding, and the content hash that
// names the immutable URL /chat.<hash>.js. Negotiation and conditional requests are pure functions, tested
// without sockets.
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";

export type Coding = "br" | "gzip" | "identity";

/** One representation of a file: the bytes sent and their validator. */
export interface Variant {
  readonly coding: Coding;
  readonly body: Buffer;
  /** Strong, and distinct per content coding (RFC 9110 8.8.3: each representation has its own). */
  readonly etag: string;
}

export interface Asset {
  /** The first 16 hex digits of the SHA-256 of the uncompressed bytes: names /chat.<hash>.js. */
  readonly hash: string;
  readonly identity: Variant;
  readonly gzip: Variant;
  /** Filled in when the background Brotli compression is done. */
  br: Variant | undefined;
  /** Settles when `br` is there (or its compression failed: gzip stays the best on offer). */
  readonly complete: Promise<void>;
}

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);

/**
 * The coding to send for an Accept-Encoding header: br if acceptable (q > 0), else gzip, else identity.
 * Codings the header lists with q=0 are refused; `*` stands for the codings it does not name.
 */
export const negotiateEncoding = (acceptEncoding: string | undefined): Coding => {
  if (!acceptEncoding) return "identity";
  const q = new Map<string, number>();
  for (const part of acceptEncoding.split(",")) {
    const [rawName, ...params] = part.toLowerCase().split(";");
    const name = rawName?.trim();
    if (!name) continue;
    let weight = 1;
    for (const p of params) {
      const m = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(p);
      if (m) weight = Number(m[1]);
    }
    q.set(name === "x-gzip" ? "gzip" : name, Number.isFinite(weight) ? weight : 0);
  }
  const accepts = (coding: string) => (q.get(coding) ?? q.get("*") ?? 0) > 0;
  if (accepts("br")) return "br";
  if (accepts("gzip")) return "gzip";
  return "identity";
};

/** If-None-Match against the representation's ETag, by weak comparison (RFC 9110 13.1.2); `*` matches any. */
export const notModified = (ifNoneMatch: string | undefined, etag: string): boolean => {
  if (ifNoneMatch === undefined) return false;
  if (ifNoneMatch.trim() === "*") return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((tag) => opaque(tag) === opaque(etag));
};

const acceptable = (asset: Asset, wanted: Coding): ReadonlyArray<Variant> =>
  wanted === "br"
    ? [...(asset.br ? [asset.br] : []), asset.gzip, asset.identity]
    : wanted === "gzip"
      ? [asset.gzip, asset.identity]
      : [asset.identity];

/**
 * The representation to answer with. A conditional request that names a representation the client may still
 * use (its If-None-Match holds the ETag of a coding it accepts) gets a 304 for that one, even when another
 * coding would be preferred for a fresh download: its copy is as good. Otherwise the best coding it accepts
 * that is smaller than the original.
 */
export const choose = (
  asset: Asset,
  acceptEncoding: string | undefined,
  ifNoneMatch: string | undefined,
): { variant: Variant; notModified: boolean } => {
  const options = acceptable(asset, negotiateEncoding(acceptEncoding));
  const held = options.find((v) => notModified(ifNoneMatch, v.etag));
  if (held) return { variant: held, notModified: true };
  const best = options.find((v) => v.coding === "identity" || v.body.length < asset.identity.body.length)!;
  return { variant: best, notModified: false };
};

const variant = (coding: Coding, body: Buffer, hash: string): Variant => ({
  coding,
  body,
  etag: `"${hash}${coding === "identity" ? "" : `-${coding}`}"`,
});

/**
 * Builds the asset for `bytes`: gzip (level 9, a few ms) before it returns, so the first answer needs no long
 * wait; Brotli (quality 11: about 0.5 s of a thread-pool thread for the 300 KB bundle, once per build and
 * node; the event loop is not held) is added when done. A client that cached the gzip answer revalidates it
 * with a 304 afterwards (`choose`).
 */
export const makeAsset = async (bytes: Buffer): Promise<Asset> => {
  const hash = createHash("sha256").update(bytes).digest("hex").slice(0, 16);
  const gz = await gzipAsync(bytes, { level: 9 });
  const br = brotli(bytes, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  });
  const asset: Asset = {
    hash,
    identity: variant("identity", bytes, hash),
    gzip: variant("gzip", gz, hash),
    br: undefined,
    complete: br.then(
      (body) => void (asset.br = variant("br", body, hash)),
      () => {},
    ),
  };
  return asset;
};

/**
 * A file of the client directory, kept in memory: `get()` reads and compresses it the first time and again
 * only when its size or mtime changed (a rebuild while the server runs), and answers undefined while it does
 * not exist. `transform` rewrites the bytes (index.html names the current bundle's hash); `key` is the part
 * of its input other than the file, so a change there rebuilds too.
 */
export class StaticFile {
  private cached: { stamp: string; asset: Promise<Asset> } | undefined;
  private readonly path: string;
  private readonly transform: (bytes: Buffer, key: string) => Buffer;

  constructor(path: string, transform: (bytes: Buffer, key: string) => Buffer = (b) => b) {
    this.path = path;
    this.transform = transform;
  }

  async get(key = ""): Promise<Asset | undefined> {
    let stamp: string;
    try {
      const s = await stat(this.path);
      stamp = `${s.size}:${s.mtimeMs}:${key}`;
    } catch {
      this.cached = undefined;
      return undefined;
    }
    if (this.cached?.stamp !== stamp) {
      const asset = readFile(this.path).then((bytes) => makeAsset(this.transform(bytes, key)));
      this.cached = { stamp, asset };
      // A failed read is not kept: the next request tries again.
      asset.catch(() => {
        if (this.cached?.asset === asset) this.cached = undefined;
      });
    }
    return this.cached.asset.catch(() => undefined);
  }
}
