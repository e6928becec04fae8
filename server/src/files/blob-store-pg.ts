// The BlobStore of the multi-node mode: PostgreSQL (--database-url), shared by every node. Bytes are rows of
// `blob_chunks` (1 MiB bytea each, keyed by the blob's SHA-256 and the chunk's index), records rows of `uploads`
// (migration 3_files). A blob's chunks and its upload row commit in one transaction, so a reader never sees a
// record whose bytes are missing or partial; a transaction-scoped advisory lock per SHA-256 keeps a sweep from
// deleting a blob that a concurrent upload of the same bytes is about to reference.
import { open } from "node:fs/promises";
import { PgClient } from "@effect/sql-pg";
import { Context, Effect, Layer, Redacted } from "effect";
import { SqlClient } from "effect/sql/SqlClient";
import { NotFound, StorageUnavailable } from "../errors.ts";
import { migrate } from "../store/postgres-migrations.ts";
import { BlobStore, type Claim, claimRecords, messageKeyString, type UploadRecord } from "./blob-store.ts";

/** Bytes per chunk row. */
export const CHUNK_BYTES = 1 << 20;

type Row = Record<string, unknown>;

const str = (value: unknown): string => String(value);
const strOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : str(value));

const toRecord = (row: Row): UploadRecord => ({
  id: String(row.id),
  owner: String(row.owner),
  ownerKey: String(row.owner_key),
  fileName: String(row.file_name),
  mediaType: String(row.media_type),
  sizeBytes: Number(row.size_bytes),
  width: Number(row.width),
  height: Number(row.height),
  sha256: String(row.sha256),
  thumbSha256: String(row.thumb_sha256),
  createdAtMs: Number(row.created_at_ms),
  conversation: strOrNull(row.conversation),
  clientMessageId: strOrNull(row.client_message_id),
  position: Number(row.position),
});

const unavailable = (operation: string) => (cause: unknown) =>
  new StorageUnavailable({ operation: `files.${operation}`, cause, retryAfterMs: 1000 });

export const layerPg = (options: { readonly url: string; readonly poolSize?: number }) =>
  Layer.effect(
    BlobStore,
    Effect.gen(function* () {
      const context = yield* Layer.build(
        PgClient.layer({
          url: Redacted.make(options.url),
          maxConnections: options.poolSize ?? 4,
          connectTimeout: 2000,
          applicationName: "protochat-files",
        }),
      ).pipe(Effect.orDie);
      const sql = Context.get(context, SqlClient);
      // The Store applies the same migrations; whichever node or layer comes first runs them (the Migrator locks).
      yield* migrate.pipe(Effect.provideService(SqlClient, sql), Effect.orDie);

      const lockBlob = (sha: string) => sql`SELECT pg_advisory_xact_lock(hashtext(${`blob:${sha}`}))`;
      const storeBytes = (sha: string, chunks: () => AsyncIterable<Uint8Array>) =>
        Effect.gen(function* () {
          yield* lockBlob(sha);
          const present = yield* sql<Row>`SELECT 1 FROM blob_chunks WHERE sha256 = ${sha} AND idx = 0`;
          if (present.length > 0) return;
          let idx = 0;
          const iterator = chunks()[Symbol.asyncIterator]();
          for (;;) {
            const next = yield* Effect.promise(() => iterator.next());
            if (next.done) break;
            yield* sql`INSERT INTO blob_chunks (sha256, idx, data) VALUES (${sha}, ${idx++}, ${Buffer.from(next.value)})`;
          }
          // An empty file still gets its chunk 0, so "present" means "complete".
          if (idx === 0) yield* sql`INSERT INTO blob_chunks (sha256, idx, data) VALUES (${sha}, 0, ${Buffer.alloc(0)})`;
        });
      const fileChunks = (path: string) =>
        async function* () {
          const handle = await open(path, "r");
          try {
            for (;;) {
              const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
              let filled = 0;
              while (filled < CHUNK_BYTES) {
                const { bytesRead } = await handle.read(buffer, filled, CHUNK_BYTES - filled, null);
                if (bytesRead === 0) break;
                filled += bytesRead;
              }
              if (filled === 0) return;
              yield buffer.subarray(0, filled);
              if (filled < CHUNK_BYTES) return;
            }
          } finally {
            await handle.close();
          }
        };

      /** Deletes the blobs of these deleted uploads that no remaining upload references; returns how many uploads. */
      const dropBlobs = (gone: ReadonlyArray<Row>) =>
        Effect.gen(function* () {
          const shas = new Set(gone.flatMap((r) => [str(r.sha256), str(r.thumb_sha256)]).filter((sha) => sha !== ""));
          for (const sha of shas) {
            yield* sql.withTransaction(
              Effect.gen(function* () {
                yield* lockBlob(sha);
                yield* sql`DELETE FROM blob_chunks WHERE sha256 = ${sha}
                  AND NOT EXISTS (SELECT 1 FROM uploads WHERE sha256 = ${sha} OR thumb_sha256 = ${sha})`;
              }),
            );
          }
          return gone.length;
        });

      return BlobStore.of({
        put: (record, contentPath, thumbnail) =>
          sql
            .withTransaction(
              Effect.gen(function* () {
                yield* storeBytes(record.sha256, fileChunks(contentPath));
                if (thumbnail !== undefined) {
                  yield* storeBytes(record.thumbSha256, async function* () {
                    for (let at = 0; at < thumbnail.length; at += CHUNK_BYTES) yield thumbnail.subarray(at, at + CHUNK_BYTES);
                  });
                }
                yield* sql`INSERT INTO uploads (id, owner, owner_key, file_name, media_type, size_bytes, width, height, sha256, thumb_sha256, created_at_ms)
                  VALUES (${record.id}, ${record.owner}, ${record.ownerKey}, ${record.fileName}, ${record.mediaType}, ${record.sizeBytes}, ${record.width},
                    ${record.height}, ${record.sha256}, ${record.thumbSha256}, ${record.createdAtMs})`;
              }),
            )
            .pipe(Effect.mapError(unavailable("put")), Effect.asVoid),
        find: (id) =>
          sql<Row>`SELECT * FROM uploads WHERE id = ${id}`.pipe(
            Effect.map((rows) => (rows[0] === undefined ? undefined : toRecord(rows[0]))),
            Effect.mapError(unavailable("find")),
          ),
        read: (sha, start, end) =>
          sql<Row>`SELECT idx, data FROM blob_chunks WHERE sha256 = ${sha} AND idx BETWEEN ${Math.floor(start / CHUNK_BYTES)} AND ${Math.floor(end / CHUNK_BYTES)} ORDER BY idx`.pipe(
            Effect.map((rows) => {
              const first = Math.floor(start / CHUNK_BYTES) * CHUNK_BYTES;
              const all = Buffer.concat(rows.map((r) => r.data as Uint8Array));
              return all.subarray(start - first, end - first + 1);
            }),
            Effect.mapError(unavailable("read")),
          ),
        claim: (claim: Claim) =>
          sql
            .withTransaction(
              Effect.gen(function* () {
                const rows = yield* sql<Row>`SELECT * FROM uploads WHERE id IN ${sql.in(claim.ids)} FOR UPDATE`;
                const byId = new Map(rows.map((row) => [String(row.id), toRecord(row)]));
                const claimed = claimRecords(
                  claim.ids.map((id) => byId.get(id)),
                  claim,
                );
                if (claimed === undefined) return undefined;
                for (const r of claimed) {
                  yield* sql`UPDATE uploads SET conversation = ${claim.conversation}, client_message_id = ${claim.clientMessageId}, position = ${r.position} WHERE id = ${r.id}`;
                }
                return claimed;
              }),
            )
            .pipe(
              Effect.mapError(unavailable("claim")),
              Effect.flatMap((claimed) =>
                claimed === undefined ? Effect.fail(new NotFound({ what: "attachment" })) : Effect.succeed(claimed),
              ),
            ),
        attachedTo: (conversation, keys) => {
          if (keys.length === 0) return Effect.succeed(new Map());
          const ids = [...new Set(keys.map((k) => k.clientMessageId))];
          return sql<Row>`SELECT * FROM uploads WHERE conversation = ${conversation} AND client_message_id IN ${sql.in(ids)} ORDER BY position`.pipe(
            Effect.map((rows) => {
              const wanted = new Set(keys.map(messageKeyString));
              const out = new Map<string, UploadRecord[]>();
              for (const r of rows.map(toRecord)) {
                const key = messageKeyString({ ownerKey: r.ownerKey, clientMessageId: r.clientMessageId ?? "" });
                if (!wanted.has(key)) continue;
                let list = out.get(key);
                if (list === undefined) out.set(key, (list = []));
                list.push(r);
              }
              return out;
            }),
            Effect.mapError(unavailable("attachedTo")),
          );
        },
        usage: (ownerKey) =>
          sql<Row>`SELECT coalesce(sum(size_bytes), 0) AS total FROM uploads WHERE owner_key = ${ownerKey}`.pipe(
            Effect.map((rows) => Number(rows[0]?.total ?? 0)),
            Effect.mapError(unavailable("usage")),
          ),
        countSince: (ownerKey, sinceMs) =>
          sql<Row>`SELECT count(*) AS n FROM uploads WHERE owner_key = ${ownerKey} AND created_at_ms >= ${sinceMs}`.pipe(
            Effect.map((rows) => Number(rows[0]?.n ?? 0)),
            Effect.mapError(unavailable("countSince")),
          ),
        release: (conversation, key) =>
          sql<Row>`DELETE FROM uploads WHERE conversation = ${conversation} AND owner_key = ${key.ownerKey} AND client_message_id = ${key.clientMessageId}
            RETURNING sha256, thumb_sha256`.pipe(Effect.flatMap(dropBlobs), Effect.mapError(unavailable("release"))),
        sweep: (beforeMs) =>
          sql<Row>`DELETE FROM uploads WHERE conversation IS NULL AND created_at_ms < ${beforeMs} RETURNING sha256, thumb_sha256`.pipe(
            Effect.flatMap(dropBlobs),
            Effect.mapError(unavailable("sweep")),
          ),
      });
    }),
  );
