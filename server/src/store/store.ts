// The storage interface: accounts, sessions, rooms, room messages and direct messages. Callers depend only on
// this service; SQLite (sqlite.ts) is the embedded implementation and PostgreSQL can be added beside it.
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

/**
 * How a store operation fails: StorageUnavailable when the storage could not be reached or could not commit
 * (nothing was stored; retry later), StoreError for anything else.
 */
export type StoreFailure = StoreError | StorageUnavailable;

export class Store extends Context.Service<Store, {
  /** Fails with UsernameTaken when `usernameKey` exists. */
  createUser(input: NewUser): Effect.Effect<UserRecord, UsernameTaken | StoreFailure>;
  findUser(usernameKey: string): Effect.Effect<UserRecord | undefined, StoreFailure>;
  createSession(session: SessionRecord): Effect.Effect<void, StoreFailure>;
  /** undefined when unknown or revoked; expiry is checked by the caller. */
  findSession(tokenHash: string): Effect.Effect<SessionRecord | undefined, StoreFailure>;
  revokeSession(tokenHash: string): Effect.Effect<void, StoreFailure>;
  /** A code is unique forever, destroyed rooms included: a collision fails with RoomCodeTaken. */
  createRoom(room: NewRoom): Effect.Effect<RoomRecord, RoomCodeTaken | StoreFailure>;
  /** Includes destroyed rooms (destroyedAtMs set). */
  findRoom(code: string): Effect.Effect<RoomRecord | undefined, StoreFailure>;
  /** Marks the room destroyed (its messages stay; its code stays taken). No-op if already destroyed. */
  destroyRoom(code: string, atMs: number): Effect.Effect<void, StoreFailure>;
  /** Live persistent rooms, sorted by name. */
  listPersistentRooms(limit: number): Effect.Effect<ReadonlyArray<RoomRecord>, StoreFailure>;
  /** Live persistent rooms created by `createdBy` (for the per-user cap). */
  countPersistentRooms(createdBy: string): Effect.Effect<number, StoreFailure>;
  /** Temporary rooms not yet destroyed (at start, each gets its empty-room grace period). */
  listTemporaryRooms(limit: number): Effect.Effect<ReadonlyArray<RoomRecord>, StoreFailure>;
  /**
   * Durably stores a room message with the room's next seq (gap-free from 1). Idempotent by
   * (roomCode, sender, clientMessageId). Resumes only after the commit (group commit with concurrent appends).
   * An unknown room code fails with StoreError.
   */
  appendMessage(message: NewMessage): Effect.Effect<Appended<StoredMessage>, StoreFailure>;
  readMessages(roomCode: string, query: PageQuery): Effect.Effect<Page<StoredMessage>, StoreFailure>;
  /**
   * As appendMessage, for the conversation of the unordered pair {usernameKey(sender), usernameKey(recipient)}:
   * one seq for both directions; idempotent by (conversation, sender, clientMessageId).
   */
  appendDirect(message: NewDirect): Effect.Effect<Appended<StoredDirect>, StoreFailure>;
  /** By username (any case); the same page whichever order the two names come in. */
  readDirect(userA: string, userB: string, query: PageQuery): Effect.Effect<Page<StoredDirect>, StoreFailure>;
}>()("protochat/store/Store") {}
