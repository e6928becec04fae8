// Requests as pure data: every request the client has made and not yet settled, in the order it was made,
// with the frame id it carries on the current socket (0 while it waits for one), and the paced queue of
// encoded frames (a token bucket kept under the server's per-connection limit). The machine decides what
// a reply means; this module only keeps the table, the ids and the pacing.
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema, type ServerFrame } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { ChatError } from "./errors.ts";

export type ClientKind = NonNullable<MessageInitShape<typeof ClientFrameSchema>["kind"]>;
export type ReplyCase = NonNullable<ServerFrame["kind"]["case"]>;

/** What a reply to the request means to the client, beyond settling the caller's promise. */
export type Purpose =
  /** Settle the caller's promise with the reply. */
  | { readonly _tag: "User" }
  /** createRoom / joinRoom: subscribe the room, then settle. */
  | { readonly _tag: "Join" }
  /** leaveRoom: "not a member" counts as done. */
  | { readonly _tag: "Leave" }
  /** onlineUsers: remember the list (and the subscription), then settle. */
  | { readonly _tag: "Online"; readonly subscribe: boolean }
  /** One attempt of a retried send (direct.ts). */
  | { readonly _tag: "SendAttempt"; readonly send: number }
  /** The SDK's own resync after a reconnect and its recovery of a gap: never queued, dropped with the socket. */
  | { readonly _tag: "Rejoin"; readonly code: string; readonly sub: number }
  | { readonly _tag: "Recover"; readonly code: string; readonly sub: number }
  | { readonly _tag: "OnlineResync" }
  /** A typing hint: fire and forget. */
  | { readonly _tag: "Typing" };

export interface Call {
  /** Creation order: queued requests are sent in this order. */
  readonly key: number;
  /** The caller's promise, settled by the shell; none for the SDK's own requests. */
  readonly ticket: number | undefined;
  readonly kind: ClientKind;
  readonly expect: ReplyCase;
  /** Safe to send again after the connection dropped with the request unanswered. */
  readonly idempotent: boolean;
  readonly purpose: Purpose;
  /** The frame id on the current socket; 0 while waiting for a connection. */
  readonly id: number;
  /** Written to the socket (not just queued for pacing). */
  readonly sent: boolean;
}

export interface Pacing {
  readonly perSec: number;
  readonly burst: number;
}

export interface Requests {
  readonly nextKey: number;
  readonly nextId: number;
  readonly calls: ReadonlyMap<number, Call>;
  /** Encoded frames waiting for a token, oldest first; `key` is the request a frame carries (none for other frames). */
  readonly queue: ReadonlyArray<{ readonly bytes: Uint8Array<ArrayBuffer>; readonly key: number | undefined }>;
  readonly tokens: number;
  readonly refilledAtMs: number;
  /** A "pump" timer is set: the queue waits for tokens. */
  readonly pumpArmed: boolean;
}

const MAX_ID = 0xffff_fff0;

export const emptyRequests = (pacing: Pacing, nowMs: number): Requests => ({
  nextKey: 1,
  nextId: 1,
  calls: new Map(),
  queue: [],
  tokens: pacing.burst,
  refilledAtMs: nowMs,
  pumpArmed: false,
});

/** The SDK's own requests are tied to one connection: never queued, never retried. */
export const isInternal = (call: Call): boolean =>
  call.purpose._tag === "Rejoin" ||
  call.purpose._tag === "Recover" ||
  call.purpose._tag === "OnlineResync" ||
  call.purpose._tag === "Typing";

const withCall = (req: Requests, call: Call): Requests => ({ ...req, calls: new Map(req.calls).set(call.key, call) });

/** Records a new request, waiting (id 0) until `dispatched`. */
export const added = (req: Requests, init: Omit<Call, "key" | "id" | "sent">): { req: Requests; call: Call } => {
  const call: Call = { ...init, key: req.nextKey, id: 0, sent: false };
  return { req: withCall({ ...req, nextKey: req.nextKey + 1 }, call), call };
};

export const removed = (req: Requests, key: number): Requests => {
  if (!req.calls.has(key)) return req;
  const calls = new Map(req.calls);
  calls.delete(key);
  return { ...req, calls };
};

/** A fresh frame id (requests, pings and the auth frame share one sequence per client). */
export const nextFrameId = (req: Requests): { req: Requests; id: number } => ({
  req: { ...req, nextId: req.nextId >= MAX_ID ? 1 : req.nextId + 1 },
  id: req.nextId,
});

export const encode = (id: number, kind: ClientKind): Uint8Array<ArrayBuffer> =>
  toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, kind })) as Uint8Array<ArrayBuffer>;

/** Gives the request a frame id and queues its frame for the socket. */
export const dispatched = (req: Requests, key: number): Requests => {
  const call = req.calls.get(key);
  if (!call) return req;
  const next = nextFrameId(req);
  return {
    ...withCall(next.req, { ...call, id: next.id, sent: false }),
    queue: [...req.queue, { bytes: encode(next.id, call.kind), key }],
  };
};

/** The request that a reply with this frame id answers. */
export const byFrameId = (req: Requests, id: number): Call | undefined => {
  for (const call of req.calls.values()) if (call.id === id) return call;
  return undefined;
};

/** Requests waiting for a connection, in the order they were made. */
export const waiting = (req: Requests): Call[] => [...req.calls.values()].filter((c) => c.id === 0).sort((a, b) => a.key - b.key);

/**
 * Takes as many queued frames as the bucket allows at `nowMs`. `armMs` says when to pump again when
 * frames are left and no pump timer is set yet.
 */
export const pumped = (
  req: Requests,
  nowMs: number,
  pacing: Pacing,
): { req: Requests; writes: Uint8Array<ArrayBuffer>[]; armMs: number | undefined } => {
  let tokens = Math.min(pacing.burst, req.tokens + (Math.max(0, nowMs - req.refilledAtMs) / 1000) * pacing.perSec);
  const writes: Uint8Array<ArrayBuffer>[] = [];
  let calls: Map<number, Call> | undefined;
  let i = 0;
  for (; i < req.queue.length && tokens >= 1; i++) {
    const item = req.queue[i]!;
    tokens -= 1;
    writes.push(item.bytes);
    const call = item.key === undefined ? undefined : (calls ?? req.calls).get(item.key);
    if (call) (calls ??= new Map(req.calls)).set(call.key, { ...call, sent: true });
  }
  const queue = i === 0 ? req.queue : req.queue.slice(i);
  const armMs = queue.length > 0 && !req.pumpArmed ? Math.max(1, Math.ceil(((1 - tokens) / pacing.perSec) * 1000)) : undefined;
  return {
    req: { ...req, calls: calls ?? req.calls, queue, tokens, refilledAtMs: nowMs, pumpArmed: req.pumpArmed || armMs !== undefined },
    writes,
    armMs,
  };
};

/** A new socket: a full bucket and an empty queue. */
export const socketOpened = (req: Requests, nowMs: number, pacing: Pacing): Requests => ({
  ...req,
  queue: [],
  tokens: pacing.burst,
  refilledAtMs: nowMs,
  pumpArmed: false,
});

/**
 * The socket is gone. Requests that are safe to repeat, or that never reached the server, wait for the next
 * connection (and keep their order); the SDK's own requests and answered-maybe writes are returned as
 * `dropped` for the machine to reject.
 */
export const socketLost = (req: Requests): { req: Requests; dropped: Call[] } => {
  const calls = new Map<number, Call>();
  const dropped: Call[] = [];
  for (const call of req.calls.values()) {
    if (call.id === 0) calls.set(call.key, call);
    else if (isInternal(call) || (call.sent && !call.idempotent)) dropped.push(call);
    else calls.set(call.key, { ...call, id: 0, sent: false });
  }
  return { req: { ...req, calls, queue: [], pumpArmed: false }, dropped };
};

/** Every request, for rejecting them all when the client stops. */
export const allCalls = (req: Requests): Call[] => [...req.calls.values()].sort((a, b) => a.key - b.key);

export const replyError = (e: { code: ErrorCode; message: string; retryAfterMs: number }, what: string): ChatError =>
  new ChatError(`${what} failed: ${ErrorCode[e.code] ?? e.code}${e.message ? ` (${e.message})` : ""}`, {
    code: e.code,
    retryAfterMs: e.retryAfterMs,
    request: what,
  });
