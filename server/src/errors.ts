// Every failure the server can report, as tagged errors. They are mapped to wire Error codes or WebSocket
// close codes in exactly one place: server/src/transport/wire-errors.ts.
import { Data } from "effect";

/** A request field is missing, empty, too long or malformed. */
export class InvalidArgument extends Data.TaggedError("InvalidArgument")<{ readonly message: string }> {}

/** Bad username or password, or an unknown/expired/revoked session token. One error for every cause. */
export class Unauthenticated extends Data.TaggedError("Unauthenticated")<{}> {}

/** register with a username that exists (case-insensitively). */
export class UsernameTaken extends Data.TaggedError("UsernameTaken")<{}> {}

/** Too many attempts; retry after `retryAfterMs`. `scope` is for logs and metrics only. */
export class RateLimited extends Data.TaggedError("RateLimited")<{
  readonly retryAfterMs: number;
  readonly scope:
    | "login-account"
    | "login-account-ip"
    | "login-ip"
    | "register-ip"
    | "register-network"
    | "register-global"
    | "hash"
    | "join"
    | "connection";
}> {}

/** No such room or user (or not allowed: indistinguishable on purpose). */
export class NotFound extends Data.TaggedError("NotFound")<{ readonly what: "room" | "user" | "message" | "attachment" }> {}

/** An action on something that is not the user's (editing or deleting another user's message). */
export class PermissionDenied extends Data.TaggedError("PermissionDenied")<{ readonly message: string }> {}

/** The connection has not joined the room the request names. */
export class NotMember extends Data.TaggedError("NotMember")<{ readonly roomCode: string }> {}

/** A per-connection or per-user cap was reached. */
export class LimitExceeded extends Data.TaggedError("LimitExceeded")<{ readonly message: string }> {}

/** A room code collided with an existing (or destroyed) room; the caller mints another. */
export class RoomCodeTaken extends Data.TaggedError("RoomCodeTaken")<{}> {}

/** The storage layer failed. Logged with its cause; the client sees only ERROR_CODE_INTERNAL. */
export class StoreError extends Data.TaggedError("StoreError")<{ readonly operation: string; readonly cause: unknown }> {}

/**
 * The storage layer could not commit (disk full, database down or unreachable): nothing was stored. The client
 * sees ERROR_CODE_UNAVAILABLE with a retry delay; a retried send with the same client message id is safe.
 */
export class StorageUnavailable extends Data.TaggedError("StorageUnavailable")<{
  readonly operation: string;
  readonly cause: unknown;
  readonly retryAfterMs: number;
}> {}
