// Where uploaded files live: their bytes (content-addressed by SHA-256, so one file uploaded twice is stored once)
// and each upload's record (who uploaded it, what it is, which message it was attached to). One interface, two
// layers: the filesystem under --data-dir (blob-store-fs.ts, embedded mode) and PostgreSQL (blob-store-pg.ts,
// --database-url, shared by every node).
//
// Failure contract, as the Store's: a method that resolves has done its work durably (fsync'd, or committed);
// when it cannot, it fails with StorageUnavailable and nothing of the call is visible.
import { Context, type Effect } from "effect";
import type { NotFound, StorageUnavailable } from "../errors.ts";
import { usernameKey } from "../store/store.ts";

/** The conversation an upload was attached in: who may download it. */
export type Conversation =
  | { readonly _tag: "room"; readonly code: string }
  | { readonly _tag: "direct"; readonly a: string; readonly b: string };

/** A direct conversation by its two usernames (any case, any order): the pair of username keys, sorted. */
export const directConversation = (userA: string, userB: string): Conversation => {
  const [a, b] = [usernameKey(userA), usernameKey(userB)].sort() as [string, string];
  return { _tag: "direct", a, b };
};

/**
 * The conversation as one stored string: "room:<code>" or "direct:<keyA>\n<keyB>" (keys sorted; a username holds no
 * control character, and PostgreSQL text cannot hold U+0000).
 */
export const conversationKey = (c: Conversation): string => (c._tag === "room" ? `room:${c.code}` : `direct:${c.a}\n${c.b}`);

export const parseConversation = (key: string): Conversation | undefined => {
  if (key.startsWith("room:")) return { _tag: "room", code: key.slice(5) };
  if (!key.startsWith("direct:")) return undefined;
  const [a, b] = key.slice(7).split("\n");
  return a === undefined || b === undefined ? undefined : { _tag: "direct", a, b };
};

/** One upload as stored. Everything but fileName was derived from the stored bytes. */
export interface UploadRecord {
  /** 22 URL-safe characters (128 random bits). */
  readonly id: string;
  /** The uploader, as registered, and its key. */
  readonly owner: string;
  readonly ownerKey: string;
  readonly fileName: string;
  readonly mediaType: string;
  readonly sizeBytes: number;
  /** Pixels, for an image; 0 otherwise. */
  readonly width: number;
  readonly height: number;
  /** SHA-256 (hex) of the bytes served for the file. */
  readonly sha256: string;
  /** SHA-256 of the thumbnail (JPEG) for an image; "" otherwise. */
  readonly thumbSha256: string;
  readonly createdAtMs: number;
  /** conversationKey of where it was attached; null while unattached. */
  readonly conversation: string | null;
  /** The client_message_id of the message that carries it (with ownerKey and conversation, the message's key). */
  readonly clientMessageId: string | null;
  /** Its position among the message's attachments, from 0. */
  readonly position: number;
}

/** A claim: attach these uploads to the message (conversation, owner, clientMessageId), in this order. */
export interface Claim {
  readonly ids: ReadonlyArray<string>;
  readonly ownerKey: string;
  readonly conversation: string;
  readonly clientMessageId: string;
  /** Uploads older than this (ms since the epoch) can no longer be attached. */
  readonly notBeforeMs: number;
  readonly nowMs: number;
}

/**
 * The claim rule both layers apply inside their write: every upload exists, belongs to the claimant, is young
 * enough, and is unattached or already attached to this very message (a retried send). The claimed records in
 * the message's order, or undefined when any one fails the rule (then nothing is claimed).
 */
export const claimRecords = (found: ReadonlyArray<UploadRecord | undefined>, claim: Claim): UploadRecord[] | undefined => {
  const ok = found.every(
    (r) =>
      r !== undefined &&
      r.ownerKey === claim.ownerKey &&
      r.createdAtMs >= claim.notBeforeMs &&
      (r.conversation === null || (r.conversation === claim.conversation && r.clientMessageId === claim.clientMessageId)),
  );
  if (!ok) return undefined;
  return (found as ReadonlyArray<UploadRecord>).map((r, position) => ({
    ...r,
    conversation: claim.conversation,
    clientMessageId: claim.clientMessageId,
    position,
  }));
};

/** A message's key within a conversation, for reading its attachments back. */
export interface MessageKey {
  readonly ownerKey: string;
  readonly clientMessageId: string;
}

export const messageKeyString = (k: MessageKey): string => `${k.ownerKey}\u0000${k.clientMessageId}`;

export class BlobStore extends Context.Service<
  BlobStore,
  {
    /**
     * Stores the file (read from `contentPath`, a finished temporary file the caller deletes afterwards) and the
     * thumbnail under their SHA-256, then the record; resumes only once all of it is durable.
     */
    put(record: UploadRecord, contentPath: string, thumbnail: Uint8Array | undefined): Effect.Effect<void, StorageUnavailable>;
    /** The record, attached or not; undefined when unknown or deleted. */
    find(id: string): Effect.Effect<UploadRecord | undefined, StorageUnavailable>;
    /** Bytes `start` to `end` (inclusive) of the blob with this SHA-256 (the caller checked the range). */
    read(sha256: string, start: number, end: number): Effect.Effect<Uint8Array, StorageUnavailable>;
    /**
     * Attaches every upload of the claim, or none: each must exist, belong to `ownerKey`, be created at or after
     * `notBeforeMs`, and be unattached or already attached to this same message (a retried send). Else NotFound,
     * and nothing changed. Returns the records in the claim's order.
     */
    claim(claim: Claim): Effect.Effect<ReadonlyArray<UploadRecord>, NotFound | StorageUnavailable>;
    /** The attachments of these messages of one conversation, by messageKeyString, each list in position order. */
    attachedTo(
      conversation: string,
      keys: ReadonlyArray<MessageKey>,
    ): Effect.Effect<ReadonlyMap<string, ReadonlyArray<UploadRecord>>, StorageUnavailable>;
    /** Bytes held by the uploads of `ownerKey` (attached or not), for the quota. */
    usage(ownerKey: string): Effect.Effect<number, StorageUnavailable>;
    /** Uploads created by `ownerKey` at or after `sinceMs`, for the rate limit (several nodes share it). */
    countSince(ownerKey: string, sinceMs: number): Effect.Effect<number, StorageUnavailable>;
    /**
     * Deletes the uploads attached to one message (its conversation, sender and client_message_id: the message was
     * deleted), and their blobs once no other upload references them; returns how many uploads.
     */
    release(conversation: string, key: MessageKey): Effect.Effect<number, StorageUnavailable>;
    /** Deletes the uploads still unattached that were created before `beforeMs`, and any blob nothing references; returns how many uploads. */
    sweep(beforeMs: number): Effect.Effect<number, StorageUnavailable>;
  }
>()("protochat/files/BlobStore") {}
