// Direct messages and sends that survive reconnects, as pure data: a send keeps its client message id
// across attempts and is retried after transient errors; the online-users list and its resync after a
// reconnect. The machine turns these decisions into requests and timers.
import { create } from "@bufbuild/protobuf";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { SendMessageRequestSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { type UserPresenceEvent, UserPresenceEventSchema } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { type BackoffOptions, backoffDelay } from "./backoff.ts";
import { maxBytesOf, requestViolation } from "./contract-rules.ts";
import { ChatError } from "./errors.ts";
import type { ClientKind } from "./requests.ts";

/** The most UTF-8 bytes of a message's text, as the contract states it (`buf.validate` rule on SendMessageRequest.text). */
export const MAX_TEXT_BYTES: number = maxBytesOf(SendMessageRequestSchema, "text") ?? 4096;

/** A room message or direct message on its way: retried with the same client message id until acked. */
export interface Send {
  readonly ticket: number;
  readonly kind: ClientKind;
  readonly expect: "sendAck" | "directAck";
  /** Transient failures so far (for the backoff). */
  readonly failures: number;
  /** The request of the attempt in flight; undefined while waiting to retry. */
  readonly call: number | undefined;
}

/**
 * Why a request cannot be sent (before anything reaches the server), or undefined: the limits written in the
 * contract (text length, names, ids, page size), worded as the server words them.
 */
export const requestError = (kind: ClientKind): ChatError | undefined => {
  const problem = requestViolation(kind);
  return problem === undefined ? undefined : new ChatError(problem, { code: ErrorCode.INVALID_ARGUMENT });
};

/** Errors worth trying again with the same client message id, after a pause. */
export const retryableSendError = (e: ChatError): boolean =>
  e.code === ErrorCode.RATE_LIMITED ||
  e.code === ErrorCode.UNAVAILABLE ||
  e.code === ErrorCode.INTERNAL ||
  e.code === ErrorCode.UNSPECIFIED;

/**
 * What a failed attempt leads to: another one after `retryInMs`, or the send fails for good. `connected`
 * is false once the client has stopped (nothing would ever carry a retry).
 */
export const sendFailed = (
  send: Send,
  err: ChatError,
  alive: boolean,
  backoff: BackoffOptions,
  random: number,
): { send: Send; retryInMs: number } | { reject: ChatError } => {
  if (!retryableSendError(err) || !alive) return { reject: err };
  const retryInMs = err.retryAfterMs ?? backoffDelay(send.failures, backoff, () => random);
  return { send: { ...send, failures: send.failures + 1, call: undefined }, retryInMs };
};

/** Users online as last reported, and whether userPresence events are wanted (also after reconnects). */
export interface Online {
  readonly subscribed: boolean;
  readonly users: ReadonlySet<string>;
}

export const noOnline: Online = { subscribed: false, users: new Set() };

export const userPresenceApplied = (online: Online, e: UserPresenceEvent): Online => {
  const users = new Set(online.users);
  if (e.online) users.add(e.username);
  else users.delete(e.username);
  return { ...online, users };
};

/** A fresh list after a reconnect: events for who came and went meanwhile, so listeners stay right. */
export const onlineResynced = (online: Online, usernames: ReadonlyArray<string>): { online: Online; events: UserPresenceEvent[] } => {
  const next = new Set(usernames);
  const events = [
    ...[...online.users].filter((u) => !next.has(u)).map((username) => create(UserPresenceEventSchema, { username, online: false })),
    ...[...next].filter((u) => !online.users.has(u)).map((username) => create(UserPresenceEventSchema, { username, online: true })),
  ];
  return { online: { ...online, users: next }, events };
};
