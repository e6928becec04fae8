// The BlobStore of the embedded mode: files under <data-dir>/files. Blobs are content-addressed
// (blobs/<first two hex>/<sha256>), upload records are one JSON file each (uploads/<id>.json), and every write is
// atomic: a temporary file in the same directory, fsync, rename over the final name, fsync of the directory. So
// a crash (SIGKILL, power loss) leaves either the whole file or nothing, never a partial file under a served
// name. Records are also held in memory (loaded at start); one writer at a time (a mutex), as for SQLite.
import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Effect, Layer } from "effect";
import { NotFound, StorageUnavailable } from "../errors.ts";
import { BlobStore, type Claim, claimRecords, messageKeyString, type UploadRecord } from "./blob-store.ts";

const unavailable = (operation: string) => (cause: unknown) =>
  new StorageUnavailable({ operation: `files.${operation}`, cause, retryAfterMs: 1000 });

const fsyncDir = async (dir: string) => {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
};

/** Writes `data` (bytes, or the content of the file `fromPath`) to `path` atomically and durably. */
const writeAtomic = async (path: string, dir: string, data: Uint8Array | { readonly fromPath: string }) => {
  const temp = join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, "wx", 0o600);
    if (data instanceof Uint8Array) await handle.writeFile(data);
    else {
      const source = await open(data.fromPath, "r");
      try {
        const buffer = Buffer.allocUnsafe(1 << 20);
        for (;;) {
          const { bytesRead } = await source.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) break;
          await handle.write(buffer, 0, bytesRead);
        }
      } finally {
        await source.close();
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
    await fsyncDir(dir);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
};

const exists = async (path: string) => {
  try {
    await (await open(path, "r")).close();
    return true;
  } catch {
    return false;
  }
};

export const makeFsBlobStore = async (root: string): Promise<BlobStore["Service"]> => {
  const blobs = join(root, "blobs");
  const uploads = join(root, "uploads");
  await mkdir(blobs, { recursive: true });
  await mkdir(uploads, { recursive: true });
  const records = new Map<string, UploadRecord>();
  for (const name of await readdir(uploads)) {
    // Temporary files of writes a crash interrupted are not records: remove them.
    if (!name.endsWith(".json")) {
      await rm(join(uploads, name), { force: true });
      continue;
    }
    const record = JSON.parse(await readFile(join(uploads, name), "utf8")) as UploadRecord;
    records.set(record.id, record);
  }
  for (const shard of await readdir(blobs)) {
    for (const name of await readdir(join(blobs, shard))) if (name.startsWith(".tmp-")) await rm(join(blobs, shard, name), { force: true });
  }

  let tail: Promise<unknown> = Promise.resolve();
  /** Runs `f` after every earlier mutation has finished. */
  const exclusive = <A>(f: () => Promise<A>): Promise<A> => {
    const run = tail.then(f, f);
    tail = run.catch(() => undefined);
    return run;
  };
  const blobPath = (sha: string) => ({ dir: join(blobs, sha.slice(0, 2)), path: join(blobs, sha.slice(0, 2), sha) });
  const storeBlob = async (sha: string, data: Uint8Array | { readonly fromPath: string }) => {
    const { dir, path } = blobPath(sha);
    if (await exists(path)) return;
    await mkdir(dir, { recursive: true });
    await writeAtomic(path, dir, data);
  };
  /** Deletes these records, then the blobs no remaining record references (inside `exclusive`). */
  const remove = async (gone: ReadonlyArray<UploadRecord>): Promise<number> => {
    for (const r of gone) {
      await rm(join(uploads, `${r.id}.json`), { force: true });
      records.delete(r.id);
    }
    const referenced = new Set<string>();
    for (const r of records.values()) referenced.add(r.sha256).add(r.thumbSha256);
    for (const r of gone) {
      for (const sha of [r.sha256, r.thumbSha256]) if (sha !== "" && !referenced.has(sha)) await rm(blobPath(sha).path, { force: true });
    }
    if (gone.length > 0) await fsyncDir(uploads);
    return gone.length;
  };
  const writeRecord = (record: UploadRecord) =>
    writeAtomic(join(uploads, `${record.id}.json`), uploads, Buffer.from(JSON.stringify(record)));

  return BlobStore.of({
    put: (record, contentPath, thumbnail) =>
      Effect.tryPromise({
        try: () =>
          exclusive(async () => {
            await storeBlob(record.sha256, { fromPath: contentPath });
            if (thumbnail !== undefined) await storeBlob(record.thumbSha256, thumbnail);
            await writeRecord(record);
            records.set(record.id, record);
          }),
        catch: unavailable("put"),
      }),
    find: (id) => Effect.sync(() => records.get(id)),
    read: (sha, start, end) =>
      Effect.tryPromise({
        try: async () => {
          const handle = await open(blobPath(sha).path, "r");
          try {
            const buffer = Buffer.alloc(end - start + 1);
            const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
            return buffer.subarray(0, bytesRead);
          } finally {
            await handle.close();
          }
        },
        catch: unavailable("read"),
      }),
    claim: (claim: Claim) =>
      Effect.tryPromise({
        try: () =>
          exclusive(async () => {
            const claimed = claimRecords(
              claim.ids.map((id) => records.get(id)),
              claim,
            );
            if (claimed === undefined) return undefined;
            for (const r of claimed) {
              await writeRecord(r);
              records.set(r.id, r);
            }
            return claimed;
          }),
        catch: unavailable("claim"),
      }).pipe(
        Effect.flatMap((claimed) => (claimed === undefined ? Effect.fail(new NotFound({ what: "attachment" })) : Effect.succeed(claimed))),
      ),
    attachedTo: (conversation, keys) =>
      Effect.sync(() => {
        const wanted = new Set(keys.map(messageKeyString));
        const out = new Map<string, UploadRecord[]>();
        if (wanted.size === 0) return out;
        for (const r of records.values()) {
          if (r.conversation !== conversation || r.clientMessageId === null) continue;
          const key = messageKeyString({ ownerKey: r.ownerKey, clientMessageId: r.clientMessageId });
          if (!wanted.has(key)) continue;
          let list = out.get(key);
          if (list === undefined) out.set(key, (list = []));
          list.push(r);
        }
        for (const list of out.values()) list.sort((x, y) => x.position - y.position);
        return out;
      }),
    usage: (ownerKey) =>
      Effect.sync(() => {
        let total = 0;
        for (const r of records.values()) if (r.ownerKey === ownerKey) total += r.sizeBytes;
        return total;
      }),
    countSince: (ownerKey, sinceMs) =>
      Effect.sync(() => {
        let n = 0;
        for (const r of records.values()) if (r.ownerKey === ownerKey && r.createdAtMs >= sinceMs) n++;
        return n;
      }),
    release: (conversation, key) =>
      Effect.tryPromise({
        try: () =>
          exclusive(() =>
            remove(
              [...records.values()].filter(
                (r) => r.conversation === conversation && r.ownerKey === key.ownerKey && r.clientMessageId === key.clientMessageId,
              ),
            ),
          ),
        catch: unavailable("release"),
      }),
    sweep: (beforeMs) =>
      Effect.tryPromise({
        try: () => exclusive(() => remove([...records.values()].filter((r) => r.conversation === null && r.createdAtMs < beforeMs))),
        catch: unavailable("sweep"),
      }),
  });
};

/** The filesystem BlobStore rooted at `root` (created if missing). */
export const layerFs = (root: string) =>
  Layer.effect(BlobStore, Effect.tryPromise({ try: () => makeFsBlobStore(root), catch: unavailable("open") }).pipe(Effect.orDie));
