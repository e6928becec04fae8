// The one place where server failures become wire errors. Tagged errors map to an ErrorCode reply (the
// connection stays open); anything else is a defect: logged with its cause, sent only as ERROR_CODE_INTERNAL.
import { Cause, Effect } from "effect";
import type { ServerFrame } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import type {
  InvalidArgument,
  LimitExceeded,
  NotFound,
  NotMember,
  PermissionDenied,
  RateLimited,
  RoomCodeTaken,
  StorageUnavailable,
  StoreError,
  Unauthenticated,
  UsernameTaken,
} from "../errors.ts";
import { errorFrame } from "../session/machine.ts";

export type DomainError =
  | InvalidArgument
  | Unauthenticated
  | UsernameTaken
  | RateLimited
  | NotFound
  | NotMember
  | PermissionDenied
  | LimitExceeded
  | RoomCodeTaken
  | StoreError
  | StorageUnavailable;

/** The reply for a failed request `id`. */
export const toWireError = (id: number, error: DomainError): ServerFrame => {
  switch (error._tag) {
    case "InvalidArgument":
      return errorFrame(id, ErrorCode.INVALID_ARGUMENT, error.message);
    case "Unauthenticated":
      return errorFrame(id, ErrorCode.UNAUTHENTICATED, "invalid credentials or session");
    case "UsernameTaken":
      return errorFrame(id, ErrorCode.USERNAME_TAKEN, "username is taken");
    case "RateLimited":
      return errorFrame(id, ErrorCode.RATE_LIMITED, "too many attempts, retry later", error.retryAfterMs);
    case "NotFound":
      return errorFrame(
        id,
        ErrorCode.NOT_FOUND,
        error.what === "room"
          ? "no such room"
          : error.what === "user"
            ? "no such user"
            : error.what === "attachment"
              ? "no such upload to attach (unknown, not yours, attached elsewhere or too old)"
              : "no such message (or it was deleted)",
      );
    case "PermissionDenied":
      return errorFrame(id, ErrorCode.PERMISSION_DENIED, error.message);
    case "NotMember":
      return errorFrame(id, ErrorCode.NOT_MEMBER, "join the room first");
    case "LimitExceeded":
      return errorFrame(id, ErrorCode.LIMIT_EXCEEDED, error.message);
    case "StorageUnavailable":
      return errorFrame(id, ErrorCode.UNAVAILABLE, "storage unavailable, nothing was stored: retry later", error.retryAfterMs);
    case "RoomCodeTaken":
    case "StoreError":
      return errorFrame(id, ErrorCode.INTERNAL, "internal error, retry later");
  }
};

/**
 * Runs a request handler; failures become the matching Error reply, defects are logged and become INTERNAL.
 * `asReply` wraps that Error frame in the caller's result type, so success and failure stay told apart by tag.
 */
export const replyOrError = <A, B>(
  id: number,
  handler: Effect.Effect<A, DomainError>,
  asReply: (error: ServerFrame) => B,
): Effect.Effect<A | B> =>
  handler.pipe(
    Effect.catchCause((cause) => {
      const failure = Cause.findErrorOption(cause);
      if (failure._tag === "Some") {
        const error = failure.value;
        if (error._tag === "StoreError" || error._tag === "StorageUnavailable") {
          return Effect.logError("store failure", { operation: error.operation, cause: String(error.cause) }).pipe(
            Effect.as(asReply(toWireError(id, error))),
          );
        }
        return Effect.succeed(asReply(toWireError(id, error)));
      }
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>);
      return Effect.logError("request failed with a defect", { cause: Cause.pretty(cause) }).pipe(
        Effect.as(asReply(errorFrame(id, ErrorCode.INTERNAL, "internal error, retry later"))),
      );
    }),
  );
