// This node's live state: authenticated connections by user, room membership and presence, typing
// indicators, subscribers to global presence, and in-order fan-out. Every method is synchronous (the hot
// path never waits); timers (typing expiry, empty-room grace) go through an injected Timers so tests and
// the Effect layer decide how time passes. Cross-node fan-out (a Bus) sits in front of this, not inside it.
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Context, Effect, FiberMap, Layer } from "effect";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { PresenceChange } from "../../../proto/gen/es/chat/v1/presence_pb.js";
import { ServerConfig } from "../config.ts";
import { frameBinary, type Wire } from "../transport/wire.ts";

/** What the hub sees of one authenticated connection. */
export interface Peer {
  readonly id: number;
  readonly username: string;
  readonly token: string;
  /** Queue bytes for the client. `droppable` frames (typing) are the first shed for a slow client. */
  send(frame: Wire, droppable?: boolean): void;
  /** Close the connection from outside its own fibers (logout elsewhere, shutdown). */
  terminate(reason: "SessionRevoked" | "Shutdown"): void;
}

export interface Timers {
  /** Runs `run` after `delayMs` unless cancelled or replaced by another schedule with the same key. */
  schedule(key: string, delayMs: number, run: () => void): void;
  cancel(key: string): void;
}

interface LiveRoom {
  readonly code: string;
  readonly persistent: boolean;
  /** username -> that user's connections in the room (a user is one member however many tabs). */
  readonly members: Map<string, Set<Peer>>;
  /** Users whose typing indicator is on. */
  readonly typing: Set<string>;
  /** The seq the next delivered message must carry; later seqs wait in `pending` (commits can finish out of order). */
  nextSeq: bigint;
  readonly pending: Map<bigint, Wire>;
  /** Every member connection, flattened for fan-out; rebuilt after a join or leave. */
  peers: Peer[] | undefined;
}

/** Encodes and frames once; the result can be written to any number of connections. */
export const encode = (frame: ServerFrame): Wire => frameBinary(toBinary(ServerFrameSchema, frame));
/** The `kind` of a ServerFrame as a plain init object. */
export type FrameKindInit = NonNullable<MessageInitShape<typeof ServerFrameSchema>["kind"]>;
/** Encodes a push (id 0) once; the same bytes go to every recipient. */
export const encodePush = (kind: FrameKindInit): Wire => encode(create(ServerFrameSchema, { id: 0, kind }));
const push = encodePush;

export class HubCore {
  private readonly users = new Map<string, Set<Peer>>();
  private readonly rooms = new Map<string, LiveRoom>();
  private readonly onlineSubscribers = new Set<Peer>();
  private readonly timers: Timers;
  private readonly typingTtlMs: number;
  private readonly roomGraceMs: number;
  /** Called when an empty temporary room's grace ran out; the caller destroys it in storage. */
  onRoomExpired: (code: string) => void = () => {};

  constructor(options: { timers: Timers; typingTtlMs: number; roomGraceMs: number }) {
    this.timers = options.timers;
    this.typingTtlMs = options.typingTtlMs;
    this.roomGraceMs = options.roomGraceMs;
  }

  // --- connections and global presence ---

  /** Registers an authenticated connection; the user's first one makes them online. */
  addPeer(peer: Peer): void {
    let set = this.users.get(peer.username);
    if (!set) {
      set = new Set();
      this.users.set(peer.username, set);
      this.broadcastOnline(peer.username, true, peer);
    }
    set.add(peer);
  }

  /** Removes a connection from everything: rooms (presence), subscriptions, and online users. */
  removePeer(peer: Peer, joinedRooms: Iterable<string>): void {
    for (const code of joinedRooms) this.leave(code, peer);
    this.onlineSubscribers.delete(peer);
    const set = this.users.get(peer.username);
    if (!set?.delete(peer)) return;
    if (set.size === 0) {
      this.users.delete(peer.username);
      this.broadcastOnline(peer.username, false, peer);
    }
  }

  peersOf(username: string): ReadonlySet<Peer> {
    return this.users.get(username) ?? new Set();
  }

  onlineUsers(limit: number): { usernames: string[]; truncated: boolean } {
    const all = [...this.users.keys()].sort();
    return { usernames: all.slice(0, limit), truncated: all.length > limit };
  }

  subscribeOnline(peer: Peer, on: boolean): void {
    if (on) this.onlineSubscribers.add(peer);
    else this.onlineSubscribers.delete(peer);
  }

  get connectionCount(): number {
    let n = 0;
    for (const set of this.users.values()) n += set.size;
    return n;
  }

  private broadcastOnline(username: string, online: boolean, except: Peer): void {
    if (this.onlineSubscribers.size === 0) return;
    const bytes = push({ case: "userPresence", value: { username, online } });
    for (const peer of this.onlineSubscribers) if (peer !== except) peer.send(bytes);
  }

  // --- rooms and presence ---

  isLive(code: string): boolean {
    return this.rooms.has(code);
  }

  isMember(code: string, peer: Peer): boolean {
    return this.rooms.get(code)?.members.get(peer.username)?.has(peer) ?? false;
  }

  /**
   * Adds `peer` to a room (making the room live at `lastStoredSeq` if nobody was in it) and returns the
   * snapshot for the RoomJoined reply. Synchronous, so the snapshot's lastSeq and the first pushed seq agree.
   */
  join(code: string, persistent: boolean, lastStoredSeq: bigint, peer: Peer): { members: string[]; lastSeq: bigint } {
    let room = this.rooms.get(code);
    if (!room) {
      room = { code, persistent, members: new Map(), typing: new Set(), nextSeq: lastStoredSeq + 1n, pending: new Map(), peers: undefined };
      this.rooms.set(code, room);
      this.timers.cancel(`grace:${code}`);
    }
    let conns = room.members.get(peer.username);
    if (!conns) {
      conns = new Set();
      room.members.set(peer.username, conns);
      const bytes = push({
        case: "presence",
        value: { roomCode: code, username: peer.username, change: PresenceChange.JOINED, memberCount: room.members.size },
      });
      this.fanOut(room, bytes, peer.username);
    }
    conns.add(peer);
    room.peers = undefined;
    return { members: [...room.members.keys()].sort(), lastSeq: room.nextSeq - 1n };
  }

  /** Removes `peer` from a room; the user's last connection leaving emits LEFT; the last member starts the grace timer. */
  leave(code: string, peer: Peer): boolean {
    const room = this.rooms.get(code);
    const conns = room?.members.get(peer.username);
    if (!room || !conns?.delete(peer)) return false;
    room.peers = undefined;
    if (conns.size > 0) return true;
    room.members.delete(peer.username);
    if (room.typing.has(peer.username)) this.setTyping(code, peer.username, false);
    if (room.members.size === 0) {
      this.rooms.delete(code);
      if (!room.persistent) this.timers.schedule(`grace:${code}`, this.roomGraceMs, () => this.onRoomExpired(code));
      return true;
    }
    const bytes = push({
      case: "presence",
      value: { roomCode: code, username: peer.username, change: PresenceChange.LEFT, memberCount: room.members.size },
    });
    this.fanOut(room, bytes);
    return true;
  }

  memberCount(code: string): number {
    return this.rooms.get(code)?.members.size ?? 0;
  }

  /** A temporary room that became empty after a restart still gets its grace period. */
  scheduleExpiry(code: string): void {
    if (!this.rooms.has(code)) this.timers.schedule(`grace:${code}`, this.roomGraceMs, () => this.onRoomExpired(code));
  }

  // --- messages: encode once, deliver in seq order ---

  /** Delivers a stored message's pre-encoded push to every connection in the room, strictly in seq order. */
  deliver(code: string, seq: bigint, bytes: Wire): void {
    const room = this.rooms.get(code);
    if (!room || seq < room.nextSeq) return;
    if (seq > room.nextSeq) {
      room.pending.set(seq, bytes);
      return;
    }
    this.fanOut(room, bytes);
    room.nextSeq++;
    for (let next = room.pending.get(room.nextSeq); next !== undefined; next = room.pending.get(room.nextSeq)) {
      room.pending.delete(room.nextSeq);
      this.fanOut(room, next);
      room.nextSeq++;
    }
  }

  /** Sends the same bytes to every connection of every member, except those of `exceptUser`. */
  private fanOut(room: LiveRoom, bytes: Wire, exceptUser?: string, droppable = false): void {
    if (exceptUser === undefined) {
      // The common case (every message): a plain array walk, no Map/Set iterators per member.
      const peers = (room.peers ??= [...room.members.values()].flatMap((conns) => [...conns]));
      for (let i = 0; i < peers.length; i++) peers[i]!.send(bytes, droppable);
      return;
    }
    for (const [username, conns] of room.members) {
      if (username === exceptUser) continue;
      for (const peer of conns) peer.send(bytes, droppable);
    }
  }

  /** Sends bytes to all connections of a user, except one (the sender's own connection for DMs). */
  sendToUser(username: string, bytes: Wire, except?: Peer): void {
    for (const peer of this.users.get(username) ?? []) if (peer !== except) peer.send(bytes);
  }

  /** Closes every connection of a session but `except` (logout elsewhere). */
  revokeSession(username: string, token: string, except: Peer): void {
    for (const peer of [...(this.users.get(username) ?? [])]) if (peer !== except && peer.token === token) peer.terminate("SessionRevoked");
  }

  /** Closes every connection (graceful shutdown). */
  shutdown(): void {
    for (const set of [...this.users.values()]) for (const peer of [...set]) peer.terminate("Shutdown");
  }

  // --- typing ---

  /** Sets a member's typing indicator; `true` refreshes its expiry. Pushes only on change, to the others. */
  setTyping(code: string, username: string, typing: boolean): void {
    const room = this.rooms.get(code);
    if (!room) return;
    const key = `typing:${code}:${username}`;
    if (typing) this.timers.schedule(key, this.typingTtlMs, () => this.setTyping(code, username, false));
    else this.timers.cancel(key);
    const was = room.typing.has(username);
    if (was === typing) return;
    if (typing) room.typing.add(username);
    else room.typing.delete(username);
    this.fanOut(room, push({ case: "typing", value: { roomCode: code, username, typing } }), username, true);
  }
}

/** The hub as a service: timers run as fibers in the server's scope, so TestClock drives them in tests. */
export class Hub extends Context.Service<Hub, HubCore>()("protochat/hub/Hub") {
  static readonly layer = Layer.effect(
    Hub,
    Effect.gen(function* () {
      const config = yield* ServerConfig;
      const run = yield* FiberMap.makeRuntime<never, string>();
      const fibers = new Map<string, { interruptUnsafe: () => void }>();
      const timers: Timers = {
        schedule(key, delayMs, fn) {
          // FiberMap.run interrupts the fiber already under `key`, so a refresh replaces the old timer.
          const fiber = run(
            key,
            Effect.sleep(delayMs).pipe(
              Effect.andThen(
                Effect.sync(() => {
                  if (fibers.get(key) === fiber) fibers.delete(key);
                  fn();
                }),
              ),
            ),
          );
          fibers.set(key, fiber);
        },
        cancel(key) {
          fibers.get(key)?.interruptUnsafe();
          fibers.delete(key);
        },
      };
      return new HubCore({ timers, typingTtlMs: config.typingTtlMs, roomGraceMs: config.roomGraceMs });
    }),
  );
}
