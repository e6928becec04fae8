// The storage interface: accounts, sessions, rooms, room messages and direct messages. Callers depend only on
// this service; SQLite (sqlite.ts) is the embedded implementation, PostgreSQL (postgres.ts) the one several
// nodes share; store.contract.ts holds the tests both pass.
//
// Failure contract, for every implementation: a method that resolves has done its work durably (a write is
// committed); when the storage cannot do it now (disk full, I/O error, database busy, down or unreachable) it
// fails with StorageUnavailable and NOTHING of the call was stored, so the caller replies UNAVAILABLE and keeps
// no in-memory trace of it; StoreError is left for bugs and damage (a constraint the caller should have
// prevented, a corrupt file). Each Store layer also provides StorageHealth.
// One exception a networked database cannot avoid: when the connection is lost while COMMIT is on its way, or
// the database does not answer at all, the outcome is unknown. PostgreSQL then also fails with
// StorageUnavailable, and the write may have been stored: an append retried with the same idempotency key then
// returns it with `duplicate: true`, so a caller must treat a duplicate's seq as possibly never delivered.
import { Context } from "effect";
import type { Effect } from "effect";
import type { RoomCodeTaken, StorageUnavailable, StoreError, UsernameTaken } from "../errors.ts";

export interface UserRecord {
  readonly id: number;
  /** As registered (NFC), shown to others. */
  readonly username: string;
  /** `usernameKey(username)`: unique, used for look-ups. */
  readonly usernameKey: string;
  /** A PHC string (argon2id). */
  readonly passwordHash: string;
  readonly createdAtMs: number;
}

export interface SessionRecord {
  /** SHA-256 of the bearer token, hex. The token itself is never stored. */
  readonly tokenHash: string;
  readonly userId: number;
  readonly username: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

export interface RoomRecord {
  readonly code: string;
  readonly name: string;
  readonly persistent: boolean;
  readonly createdBy: string;
  readonly createdAtMs: number;
  /** Set once the room is destroyed; its code stays taken forever. */
  readonly destroyedAtMs: number | null;
  /** Seq of the newest message, 0n if none. */
  readonly lastSeq: bigint;
}

export interface StoredMessage {
  readonly roomCode: string;
  readonly seq: bigint;
  readonly sender: string;
  readonly sentAtMs: number;
  readonly text: string;
  readonly clientMessageId: string;
}

export interface StoredDirect {
  readonly sender: string;
  readonly recipient: string;
  readonly seq: bigint;
  readonly sentAtMs: number;
  readonly text: string;
  readonly clientMessageId: string;
}

export type Direction = "backward" | "forward";

/**
 * A history page request. `anchorSeq` is exclusive. backward: seqs < anchor (anchor 0n = from the newest);
 * forward: seqs > anchor (anchor 0n = from seq 1). `limit` is a positive integer (the caller validates 1-200).
 */
export interface PageQuery {
  readonly anchorSeq: bigint;
  readonly direction: Direction;
  readonly limit: number;
}

/** `messages` are ALWAYS in ascending seq order and contiguous; `hasMore`: more exist beyond the page in its direction. */
export interface Page<A> {
  readonly messages: ReadonlyArray<A>;
  readonly hasMore: boolean;
}

export interface NewUser {
  readonly username: string;
  readonly usernameKey: string;
  readonly passwordHash: string;
  readonly createdAtMs: number;
}

export interface NewRoom {
  readonly code: string;
  readonly name: string;
  readonly persistent: boolean;
  readonly createdBy: string;
  readonly createdAtMs: number;
}

export interface NewMessage {
  readonly roomCode: string;
  readonly sender: string;
  readonly clientMessageId: string;
  readonly text: string;
  readonly sentAtMs: number;
}

export interface NewDirect {
  readonly sender: string;
  readonly recipient: string;
  readonly clientMessageId: string;
  readonly text: string;
  readonly sentAtMs: number;
}

/** The result of an idempotent append: on a retry, the ORIGINAL stored message and `duplicate: true`. */
export interface Appended<A> {
  readonly message: A;
  readonly duplicate: boolean;
}

/**
 * The case-insensitive key of a username: NFC, then lower case. Unique per account; a direct-message
 * conversation is the unordered pair of its members' keys.
 */
export const usernameKey = (username: string): string => username.normalize("NFC").toLowerCase();

export class Store extends Context.Service<Store, {
  /** Fails with UsernameTaken when `usernameKey` exists. */
  createUser(input: NewUser): Effect.Effect<UserRecord, UsernameTaken | StoreError | StorageUnavailable>;
  findUser(usernameKey: string): Effect.Effect<UserRecord | undefined, StoreError | StorageUnavailable>;
  createSession(session: SessionRecord): Effect.Effect<void, StoreError | StorageUnavailable>;
  /** undefined when unknown or revoked; expiry is checked by the caller. */
  findSession(tokenHash: string): Effect.Effect<SessionRecord | undefined, StoreError | StorageUnavailable>;
  revokeSession(tokenHash: string): Effect.Effect<void, StoreError | StorageUnavailable>;
  /** A code is unique forever, destroyed rooms included: a collision fails with RoomCodeTaken. */
  createRoom(room: NewRoom): Effect.Effect<RoomRecord, RoomCodeTaken | StoreError | StorageUnavailable>;
  /** Includes destroyed rooms (destroyedAtMs set). */
  findRoom(code: string): Effect.Effect<RoomRecord | undefined, StoreError | StorageUnavailable>;
  /** Marks the room destroyed (its messages stay; its code stays taken). No-op if already destroyed. */
  destroyRoom(code: string, atMs: number): Effect.Effect<void, StoreError | StorageUnavailable>;
  /** Live persistent rooms, sorted by name. */
  listPersistentRooms(limit: number): Effect.Effect<ReadonlyArray<RoomRecord>, StoreError | StorageUnavailable>;
  /** Live persistent rooms created by `createdBy` (for the per-user cap). */
  countPersistentRooms(createdBy: string): Effect.Effect<number, StoreError | StorageUnavailable>;
  /** Temporary rooms not yet destroyed (at start, each gets its empty-room grace period). */
  listTemporaryRooms(limit: number): Effect.Effect<ReadonlyArray<RoomRecord>, StoreError | StorageUnavailable>;
  /**
   * Durably stores a room message with the room's next seq (gap-free from 1). Idempotent by
   * (roomCode, sender, clientMessageId). Resumes only after the commit (group commit with concurrent appends).
   * An unknown room code fails with StoreError. StorageUnavailable fails every append of the group commit it
   * was in, and none of them used a seq.
   */
  appendMessage(message: NewMessage): Effect.Effect<Appended<StoredMessage>, StoreError | StorageUnavailable>;
  readMessages(roomCode: string, query: PageQuery): Effect.Effect<Page<StoredMessage>, StoreError | StorageUnavailable>;
  /**
   * As appendMessage, for the conversation of the unordered pair {usernameKey(sender), usernameKey(recipient)}:
   * one seq for both directions; idempotent by (conversation, sender, clientMessageId).
   */
  appendDirect(message: NewDirect): Effect.Effect<Appended<StoredDirect>, StoreError | StorageUnavailable>;
  /** By username (any case); the same page whichever order the two names come in. */
  readDirect(userA: string, userB: string, query: PageQuery): Effect.Effect<Page<StoredDirect>, StoreError | StorageUnavailable>;
}>()("protochat/store/Store") {}

/** Storage health as last observed: `Unavailable` from the first failed commit until one succeeds again. */
export type StorageStatus =
  | { readonly _tag: "Available" }
  | {
      readonly _tag: "Unavailable";
      /** One line for operators (no user data): the storage's own message, its code, e.g. the free space. */
      readonly reason: string;
      /** Since when (epoch ms) commits have failed. */
      readonly sinceMs: number;
    };

/**
 * Whether the storage can commit, for the readiness endpoint. Provided by every Store layer beside Store. An
 * implementation notices trouble from its own failed writes and from a probe while idle, and notices recovery by
 * itself (a probe while unavailable), so the status returns to `Available` with no traffic and no restart.
 */
export class StorageHealth extends Context.Service<StorageHealth, {
  /** The current status; synchronous and cheap (read on every health check). */
  readonly status: () => StorageStatus;
}>()("protochat/store/StorageHealth") {}
