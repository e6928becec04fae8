// Cross-node publish/subscribe: what one node must tell the others (room messages with their seq, pushes
// to a room or a user, online/offline, logout, room destruction). Events carry protobuf payloads (an
// encoded ServerFrame push); WebSocket framing happens only at the transport edge. The publisher delivers
// to its own connections itself (no hop through the bus); `publish` reaches the OTHER nodes.
// Layers: `layerMemory` (embedded: one node, or several in one process sharing a MemoryNetwork) and
// `RedisBus.layer` in redis.ts.
import { Context, Effect, Layer, type Scope } from "effect";
import { ServerConfig } from "../config.ts";

export type BusEvent =
  /** A stored room message: delivered by every node in seq order (gaps filled from the store). */
  | { readonly _tag: "RoomMessage"; readonly room: string; readonly seq: bigint; readonly payload: Uint8Array }
  /** A push to a room's members (presence change, typing), except the connections of `exceptUser` ("" = none). */
  | {
      readonly _tag: "RoomPush";
      readonly room: string;
      readonly exceptUser: string;
      readonly droppable: boolean;
      readonly payload: Uint8Array;
    }
  /** A push to every connection of these users (a direct message). */
  | { readonly _tag: "UserPush"; readonly usernames: ReadonlyArray<string>; readonly payload: Uint8Array }
  /** A push to every subscriber of online/offline changes. */
  | { readonly _tag: "OnlinePush"; readonly payload: Uint8Array }
  /** A session ended (logout): its connections close with 4104. The token's SHA-256, never the token. */
  | { readonly _tag: "SessionRevoked"; readonly username: string; readonly tokenHash: string }
  /** A temporary room was destroyed: other nodes drop their expiry timers for it. */
  | { readonly _tag: "RoomDestroyed"; readonly room: string };

export interface BusHandler {
  /** An event from another node, in the order that node published it. Must not throw. */
  event(event: BusEvent): void;
  /** The connection to the other nodes was re-established: events may have been lost in between. */
  reconnected(): void;
}

export interface BusShape {
  readonly nodeId: string;
  /** True when no other node can exist (embedded mode): publishers may skip building events. */
  readonly standalone: boolean;
  /** Sends to every other node; never waits and never fails (a lost room message is filled from the store). */
  publish(event: BusEvent): void;
  /** Receives the other nodes' events for the lifetime of the scope. */
  subscribe(handler: BusHandler): Effect.Effect<void, never, Scope.Scope>;
}

export class Bus extends Context.Service<Bus, BusShape>()("protochat/bus/Bus") {
  /** Embedded: events go to the other nodes of `network` (none unless a test shares one between apps). */
  static readonly layerMemory = (network?: MemoryNetwork) =>
    Layer.effect(
      Bus,
      Effect.gen(function* () {
        const config = yield* ServerConfig;
        const net = network ?? new MemoryNetwork();
        return net.node(config.nodeId, network === undefined);
      }),
    );
}

/** Nodes in one process that hear each other's events (for tests of several nodes without Redis). */
export class MemoryNetwork {
  private readonly handlers = new Map<string, Set<BusHandler>>();

  node(nodeId: string, standalone: boolean): BusShape {
    const handlers = this.handlers;
    return {
      nodeId,
      standalone,
      publish(event) {
        if (handlers.size === 0) return;
        for (const [id, set] of handlers) {
          if (id === nodeId) continue;
          // Asynchronous like a real bus: never re-entrant into the publisher's call stack.
          for (const h of set) queueMicrotask(() => h.event(event));
        }
      },
      subscribe: (handler) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            let set = handlers.get(nodeId);
            if (!set) handlers.set(nodeId, (set = new Set()));
            set.add(handler);
          }),
          () =>
            Effect.sync(() => {
              const set = handlers.get(nodeId);
              set?.delete(handler);
              if (set?.size === 0) handlers.delete(nodeId);
            }),
        ),
    };
  }

  /** Tells every node's handlers their connection came back (a test's stand-in for a Redis reconnect). */
  reconnectAll(): void {
    for (const set of this.handlers.values()) for (const h of set) h.reconnected();
  }
}

// --- the wire form of an event on a shared bus (Redis): a tag byte, the origin node, then fields ---

const TAGS = ["RoomMessage", "RoomPush", "UserPush", "OnlinePush", "SessionRevoked", "RoomDestroyed"] as const;
const MAX_STRING = 0xffff;

class Writer {
  private parts: Uint8Array[] = [];
  byte(n: number) {
    this.parts.push(Uint8Array.of(n));
  }
  string(s: string) {
    const b = Buffer.from(s, "utf8");
    if (b.length > MAX_STRING) throw new RangeError("bus string too long");
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    this.parts.push(len, b);
  }
  u64(n: bigint) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(n);
    this.parts.push(b);
  }
  rest(b: Uint8Array) {
    this.parts.push(b);
  }
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private at = 0;
  private readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  byte(): number {
    if (this.at >= this.b.length) throw new RangeError("truncated bus event");
    return this.b[this.at++]!;
  }
  string(): string {
    if (this.at + 2 > this.b.length) throw new RangeError("truncated bus event");
    const len = this.b.readUInt16BE(this.at);
    this.at += 2;
    if (this.at + len > this.b.length) throw new RangeError("truncated bus event");
    const s = this.b.toString("utf8", this.at, this.at + len);
    this.at += len;
    return s;
  }
  u64(): bigint {
    if (this.at + 8 > this.b.length) throw new RangeError("truncated bus event");
    const n = this.b.readBigUInt64BE(this.at);
    this.at += 8;
    return n;
  }
  rest(): Uint8Array {
    const r = this.b.subarray(this.at);
    this.at = this.b.length;
    return r;
  }
}

/** Encodes an event with its origin node, for a bus shared by several processes. */
export const encodeEvent = (origin: string, e: BusEvent): Buffer => {
  const w = new Writer();
  w.byte(TAGS.indexOf(e._tag));
  w.string(origin);
  switch (e._tag) {
    case "RoomMessage":
      w.string(e.room);
      w.u64(e.seq);
      w.rest(e.payload);
      break;
    case "RoomPush":
      w.string(e.room);
      w.string(e.exceptUser);
      w.byte(e.droppable ? 1 : 0);
      w.rest(e.payload);
      break;
    case "UserPush":
      w.byte(e.usernames.length);
      for (const u of e.usernames) w.string(u);
      w.rest(e.payload);
      break;
    case "OnlinePush":
      w.rest(e.payload);
      break;
    case "SessionRevoked":
      w.string(e.username);
      w.string(e.tokenHash);
      break;
    case "RoomDestroyed":
      w.string(e.room);
      break;
  }
  return w.done();
};

/** Decodes `encodeEvent`'s output; throws RangeError on a malformed event. */
export const decodeEvent = (b: Buffer): { origin: string; event: BusEvent } => {
  const r = new Reader(b);
  const tag = TAGS[r.byte()];
  const origin = r.string();
  switch (tag) {
    case "RoomMessage":
      return { origin, event: { _tag: tag, room: r.string(), seq: r.u64(), payload: r.rest() } };
    case "RoomPush":
      return { origin, event: { _tag: tag, room: r.string(), exceptUser: r.string(), droppable: r.byte() === 1, payload: r.rest() } };
    case "UserPush": {
      const n = r.byte();
      const usernames: string[] = [];
      for (let i = 0; i < n; i++) usernames.push(r.string());
      return { origin, event: { _tag: tag, usernames, payload: r.rest() } };
    }
    case "OnlinePush":
      return { origin, event: { _tag: tag, payload: r.rest() } };
    case "SessionRevoked":
      return { origin, event: { _tag: tag, username: r.string(), tokenHash: r.string() } };
    case "RoomDestroyed":
      return { origin, event: { _tag: tag, room: r.string() } };
    default:
      throw new RangeError("unknown bus event");
  }
};
