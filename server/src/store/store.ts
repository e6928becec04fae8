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
import {
  LimitExceeded,
  NotFound,
  PermissionDenied,
  type RoomCodeTaken,
  type StorageUnavailable,
  type StoreError,
  type UsernameTaken,
} from "../errors.ts";
import { type ActionTarget, actionRefusal } from "./rules.ts";

// The pure rules live in rules.ts (free of Effect, for the SQLite worker thread); every layer imports them from here.
export {
  ACTION_CODES,
  actionCode,
  type ActionTarget,
  freshState,
  groupReactions,
  MAX_EMOJI_PER_MESSAGE,
  QUOTE_CHARS,
  quoteText,
  usernameKey,
} from "./rules.ts";

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

/** What an action event does (the wire's ActionKind). */
export type ActionKind = "edit" | "delete" | "reaction-add" | "reaction-remove";

/** Set on an action event: its target (a plain message of the same conversation) and, for reactions, the emoji. */
export interface StoredAction {
  readonly kind: ActionKind;
  readonly targetSeq: bigint;
  /** The emoji of a reaction event; "" otherwise. */
  readonly emoji: string;
}

/** One emoji on a message and who reacted with it, earliest first. */
export interface ReactionSummary {
  readonly emoji: string;
  readonly users: ReadonlyArray<string>;
}

/** What a reply quotes: the replied-to message as it is now (text cut to QUOTE_CHARS code points). */
export interface Quote {
  readonly sender: string;
  readonly text: string;
  readonly deleted: boolean;
}

/**
 * Every event of a conversation (message or action) carries these. For a plain message they are its current
 * state as of the read: `text` is the latest edit's text, `editedAtMs` > 0 once edited, `deleted` for a tombstone
 * (text ""), `reactions` in order of first use, `stateSeq` the seq of the latest action reflected (0n: none).
 * An action event has `action` set and no state of its own. Appends return the new event without `replyQuote`;
 * reads fill it.
 */
export interface EventState {
  readonly replyToSeq: bigint;
  readonly replyQuote: Quote | undefined;
  readonly action: StoredAction | undefined;
  readonly editedAtMs: number;
  readonly deleted: boolean;
  readonly reactions: ReadonlyArray<ReactionSummary>;
  readonly stateSeq: bigint;
}

export interface StoredMessage extends EventState {
  readonly roomCode: string;
  readonly seq: bigint;
  readonly sender: string;
  readonly sentAtMs: number;
  readonly text: string;
  readonly clientMessageId: string;
}

export interface StoredDirect extends EventState {
  readonly sender: string;
  readonly recipient: string;
  readonly seq: bigint;
  readonly sentAtMs: number;
  readonly text: string;
  readonly clientMessageId: string;
}

/** As actionRefusal (rules.ts), as the tagged error its caller fails with. */
export const refuseAction = (
  action: NewAction,
  target: ActionTarget | undefined,
  emoji: { readonly present: boolean; readonly distinct: number },
): NotFound | PermissionDenied | LimitExceeded | undefined => {
  const refusal = actionRefusal(action, target, emoji);
  switch (refusal?._tag) {
    case undefined:
      return undefined;
    case "NotFound":
      return new NotFound({ what: refusal.what });
    case "PermissionDenied":
      return new PermissionDenied({ message: refusal.message });
    case "LimitExceeded":
      return new LimitExceeded({ message: refusal.message });
  }
};

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
  /** A reply: the seq of an earlier plain message of the room (the caller checked it); 0n or absent otherwise. */
  readonly replyToSeq?: bigint;
}

export interface NewDirect {
  readonly sender: string;
  readonly recipient: string;
  readonly clientMessageId: string;
  readonly text: string;
  readonly sentAtMs: number;
  /** As NewMessage.replyToSeq, within the conversation. */
  readonly replyToSeq?: bigint;
}

/** An action on an earlier message, stored as an event with the conversation's next seq. */
export interface NewAction {
  readonly kind: ActionKind;
  readonly targetSeq: bigint;
  readonly sender: string;
  /** Idempotency key, shared with messages: (conversation, sender, clientMessageId) is stored once. */
  readonly clientMessageId: string;
  /** The new text of an edit; "" otherwise. */
  readonly text: string;
  /** The emoji of a reaction; "" otherwise. */
  readonly emoji: string;
  readonly sentAtMs: number;
}

export interface NewRoomAction extends NewAction {
  readonly roomCode: string;
}

export interface NewDirectAction extends NewAction {
  readonly recipient: string;
}

/** The result of an idempotent append: on a retry, the ORIGINAL stored message and `duplicate: true`. */
export interface Appended<A> {
  readonly message: A;
  readonly duplicate: boolean;
}

export class Store extends Context.Service<
  Store,
  {
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
    /** Every event of the page (messages and actions); plain messages carry their current state and reply quote. */
    readMessages(roomCode: string, query: PageQuery): Effect.Effect<Page<StoredMessage>, StoreError | StorageUnavailable>;
    /**
     * Stores an action on a room message as an event with the room's next seq, and applies it to the target in the
     * same transaction: an edit replaces the text and sets editedAtMs; a delete erases the text (and that of earlier
     * edit events of the target) and the reactions and marks it deleted; a reaction add/remove sets the sender's
     * reaction. Refused (nothing stored, no seq used) with NotFound when the target is not a live plain message,
     * PermissionDenied when an edit or delete is not by the target's sender, LimitExceeded past
     * MAX_EMOJI_PER_MESSAGE. Idempotent by (roomCode, sender, clientMessageId), shared with appendMessage.
     */
    appendRoomAction(
      action: NewRoomAction,
    ): Effect.Effect<Appended<StoredMessage>, NotFound | PermissionDenied | LimitExceeded | StoreError | StorageUnavailable>;
    /** As appendRoomAction, in the conversation of sender and recipient. */
    appendDirectAction(
      action: NewDirectAction,
    ): Effect.Effect<Appended<StoredDirect>, NotFound | PermissionDenied | LimitExceeded | StoreError | StorageUnavailable>;
    /**
     * As appendMessage, for the conversation of the unordered pair {usernameKey(sender), usernameKey(recipient)}:
     * one seq for both directions; idempotent by (conversation, sender, clientMessageId).
     */
    appendDirect(message: NewDirect): Effect.Effect<Appended<StoredDirect>, StoreError | StorageUnavailable>;
    /** By username (any case); the same page whichever order the two names come in. */
    readDirect(userA: string, userB: string, query: PageQuery): Effect.Effect<Page<StoredDirect>, StoreError | StorageUnavailable>;
  }
>()("protochat/store/Store") {}

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
export class StorageHealth extends Context.Service<
  StorageHealth,
  {
    /** The current status; synchronous and cheap (read on every health check). */
    readonly status: () => StorageStatus;
  }
>()("protochat/store/StorageHealth") {}
