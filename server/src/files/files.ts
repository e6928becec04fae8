// Attachments as messages see them: claim uploads for a message being sent (before it is stored, so a message
// is never stored, acked or delivered with an attachment whose bytes are not durable), read them back for
// history and recovery, and delete the uploads nobody attached within --upload-ttl-ms.
import { Context, Effect, Layer, Schedule } from "effect";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { AttachmentSchema } from "../../../proto/gen/es/chat/v1/attachment_pb.js";
import { ServerConfig } from "../config.ts";
import type { NotFound, StorageUnavailable } from "../errors.ts";
import { usernameKey } from "../store/store.ts";
import { BlobStore, type Conversation, conversationKey, type MessageKey, messageKeyString, type UploadRecord } from "./blob-store.ts";

/** At most this many attachments per message (also a buf.validate rule on attachment_ids). */
export const MAX_ATTACHMENTS = 10;

export type AttachmentInit = MessageInitShape<typeof AttachmentSchema>;

export const attachmentInit = (r: UploadRecord): AttachmentInit => ({
  id: r.id,
  fileName: r.fileName,
  mediaType: r.mediaType,
  sizeBytes: BigInt(r.sizeBytes),
  width: r.width,
  height: r.height,
  thumbnailUrl: r.thumbSha256 === "" ? "" : `/v1/files/${r.id}/thumbnail`,
});

export class Files extends Context.Service<
  Files,
  {
    /**
     * Attaches the uploads `ids` to the message (conversation, sender, clientMessageId), all or none. Only the
     * uploader, only within --upload-ttl-ms of the upload, only one message (a retry of the same message may
     * claim them again). NotFound otherwise.
     */
    attach(
      conversation: Conversation,
      sender: string,
      clientMessageId: string,
      ids: ReadonlyArray<string>,
    ): Effect.Effect<ReadonlyArray<AttachmentInit>, NotFound | StorageUnavailable>;
    /** Deletes the files of a deleted message (its sender and client_message_id), and their bytes once unreferenced. */
    release(conversation: Conversation, sender: string, clientMessageId: string): Effect.Effect<void, StorageUnavailable>;
    /** The attachments of these messages of one conversation, by messageKeyString({ownerKey: usernameKey(sender), clientMessageId}). */
    of(
      conversation: Conversation,
      keys: ReadonlyArray<{ readonly sender: string; readonly clientMessageId: string }>,
    ): Effect.Effect<ReadonlyMap<string, ReadonlyArray<AttachmentInit>>, StorageUnavailable>;
  }
>()("protochat/files/Files") {
  static readonly layer = Layer.effect(
    Files,
    Effect.gen(function* () {
      const blobs = yield* BlobStore;
      const config = yield* ServerConfig;
      // Unattached uploads past the TTL go, with their blobs once nothing else references them.
      yield* Effect.suspend(() => blobs.sweep(Date.now() - config.uploadTtlMs)).pipe(
        Effect.tap((n) => (n > 0 ? Effect.logDebug("unattached uploads deleted", { count: n }) : Effect.void)),
        Effect.catchCause((cause) => Effect.logWarning("sweeping uploads failed", { cause: String(cause) })),
        Effect.repeat(Schedule.spaced(Math.max(1000, Math.min(60_000, Math.floor(config.uploadTtlMs / 4))))),
        Effect.forkScoped,
      );
      return Files.of({
        attach: (conversation, sender, clientMessageId, ids) =>
          ids.length === 0
            ? Effect.succeed([])
            : Effect.suspend(() =>
                blobs.claim({
                  ids,
                  ownerKey: usernameKey(sender),
                  conversation: conversationKey(conversation),
                  clientMessageId,
                  notBeforeMs: Date.now() - config.uploadTtlMs,
                  nowMs: Date.now(),
                }),
              ).pipe(Effect.map((records) => records.map(attachmentInit))),
        release: (conversation, sender, clientMessageId) =>
          blobs.release(conversationKey(conversation), { ownerKey: usernameKey(sender), clientMessageId }).pipe(Effect.asVoid),
        of: (conversation, keys) => {
          const wanted: MessageKey[] = keys.map((k) => ({ ownerKey: usernameKey(k.sender), clientMessageId: k.clientMessageId }));
          if (wanted.length === 0) return Effect.succeed(new Map());
          return blobs
            .attachedTo(conversationKey(conversation), wanted)
            .pipe(Effect.map((found) => new Map([...found].map(([key, list]) => [key, list.map(attachmentInit)]))));
        },
      });
    }),
  );
}

export { messageKeyString };
