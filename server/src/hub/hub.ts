// This node's connections only: who is connected here, in which rooms, typing indicators set here, the
// subscribers to online/offline pushes, and in-order local fan-out (encode once, the same bytes to every
// member). Every method is synchronous (the hot path never waits). What other nodes must hear (typing,
// revocations, a user's first/last connection here, a room waiting behind a missing seq) is told to the
// listeners registered with `listen`; the bus relay (bus/relay.ts) and the rooms service act on it.
// Cluster-wide membership and online state live in Presence (presence/presence.ts), not here.
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Context, Effect, FiberMap, Layer } from "effect";
import { type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { hashToken } from "../auth/tokens.ts";
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

/** Local changes other parts of the node act on. Called synchronously; a listener must not throw. */
export interface HubListener {
  /**
   * The user's first connection on this node arrived (true), or its last one went (false). `linger`: the
   * connection closed without the user asking to go (reload, network, timeout): the user may be back shortly,
   * so the change is announced only after the presence grace. False for logout.
   */
  userOnline?(username: string, online: boolean, linger: boolean, tokenHash: string): void;
  /**
   * The user's last connection on this node left the room; `linger` as for `userOnline` (false for LeaveRoom
   * and logout). `tokenHash`: the session of the connection that went (SHA-256 of its token), see `sessionEnded`.
   */
  memberLeft?(code: string, username: string, persistent: boolean, linger: boolean, tokenHash: string): void;
  /** A session was logged out (here or on another node): a grace its connections left behind ends now. */
  sessionEnded?(username: string, tokenHash: string): void;
  /** A typing indicator set on this node changed; `bytes` is the push already fanned out here. */
  typingChanged?(code: string, username: string, bytes: Wire): void;
  /** A session was revoked here (logout); its connections on other nodes must close too. */
  sessionRevoked?(username: string, token: string): void;
  /** A room's delivery now waits behind a missing seq (see `deliver`). */
  gap?(code: string): void;
  /** The room got its first member here (its position is the stored lastSeq read before the join). */
  roomLive?(code: string): void;
}

interface LiveRoom {
  readonly code: string;
  readonly persistent: boolean;
  /** username -> that user's connections in the room (a user is one member however many tabs). */
  readonly members: Map<string, Set<Peer>>;
  /** Users whose typing indicator is on (set by a connection of this node). */
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
  private readonly listeners = new Set<HubListener>();
  private readonly timers: Timers;
  private readonly typingTtlMs: number;

  constructor(options: { timers: Timers; typingTtlMs: number }) {
    this.timers = options.timers;
    this.typingTtlMs = options.typingTtlMs;
  }

  /** Adds a listener; the returned function removes it (listeners never replace each other). */
  listen(listener: HubListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // --- connections ---

  /** Registers an authenticated connection; the user's first one here is told to the listeners. */
  addPeer(peer: Peer): void {
    const set = this.users.get(peer.username);
    if (set) {
      set.add(peer);
      return;
    }
    this.users.set(peer.username, new Set([peer]));
    for (const l of this.listeners) l.userOnline?.(peer.username, true, false, "");
  }

  /**
   * Removes a connection from everything here: rooms, subscriptions, users. `linger`: it closed without the
   * user asking to leave (see HubListener), so its departure is announced after the presence grace.
   */
  removePeer(peer: Peer, joinedRooms: Iterable<string>, linger = false): void {
    for (const code of joinedRooms) this.leave(code, peer, linger);
    this.onlineSubscribers.delete(peer);
    const set = this.users.get(peer.username);
    if (!set?.delete(peer)) return;
    if (set.size === 0) {
      this.users.delete(peer.username);
      const tokenHash = this.listeners.size > 0 ? hashToken(peer.token) : "";
      for (const l of this.listeners) l.userOnline?.(peer.username, false, linger, tokenHash);
    }
  }

  peersOf(username: string): ReadonlySet<Peer> {
    return this.users.get(username) ?? new Set();
  }

  /** Users with at least one connection on this node. */
  localUsers(): IterableIterator<string> {
    return this.users.keys();
  }

  subscribeOnline(peer: Peer, on: boolean): void {
    if (on) this.onlineSubscribers.add(peer);
    else this.onlineSubscribers.delete(peer);
  }

  /** Sends an online/offline push to this node's subscribers. */
  pushOnline(bytes: Wire): void {
    for (const peer of this.onlineSubscribers) peer.send(bytes);
  }

  get connectionCount(): number {
    let n = 0;
    for (const set of this.users.values()) n += set.size;
    return n;
  }

  // --- rooms ---

  isLive(code: string): boolean {
    return this.rooms.has(code);
  }

  /** Codes of the rooms with members on this node. */
  liveRooms(): IterableIterator<string> {
    return this.rooms.keys();
  }

  isMember(code: string, peer: Peer): boolean {
    return this.rooms.get(code)?.members.get(peer.username)?.has(peer) ?? false;
  }

  /** Whether the user has a connection in the room on this node. */
  hasMember(code: string, username: string): boolean {
    return this.rooms.get(code)?.members.has(username) ?? false;
  }

  /** Users with a connection in the room on this node. */
  localMembers(code: string): ReadonlyArray<string> {
    return [...(this.rooms.get(code)?.members.keys() ?? [])];
  }

  /**
   * Adds `peer` to a room (making the room live at `lastStoredSeq` if nobody here was in it) and returns the
   * seq before the first message it will be pushed. Synchronous, so the RoomJoined reply queued right after
   * and the first pushed seq agree.
   */
  join(code: string, persistent: boolean, lastStoredSeq: bigint, peer: Peer): { lastSeq: bigint } {
    let room = this.rooms.get(code);
    if (!room) {
      room = { code, persistent, members: new Map(), typing: new Set(), nextSeq: lastStoredSeq + 1n, pending: new Map(), peers: undefined };
      this.rooms.set(code, room);
      for (const l of this.listeners) l.roomLive?.(code);
    }
    let conns = room.members.get(peer.username);
    if (!conns) {
      conns = new Set();
      room.members.set(peer.username, conns);
    }
    conns.add(peer);
    room.peers = undefined;
    return { lastSeq: room.nextSeq - 1n };
  }

  /** Removes `peer` from a room; the user's last connection here leaving is told to the listeners (`linger` as in removePeer). */
  leave(code: string, peer: Peer, linger = false): boolean {
    const room = this.rooms.get(code);
    const conns = room?.members.get(peer.username);
    if (!room || !conns?.delete(peer)) return false;
    room.peers = undefined;
    if (conns.size > 0) return true;
    room.members.delete(peer.username);
    if (room.typing.has(peer.username)) this.setTyping(code, peer.username, false);
    if (room.members.size === 0) this.rooms.delete(code);
    const tokenHash = linger ? hashToken(peer.token) : "";
    for (const l of this.listeners) l.memberLeft?.(code, peer.username, room.persistent, linger, tokenHash);
    return true;
  }

  // --- messages: encode once, deliver in seq order ---

  /**
   * Delivers a stored message's pre-encoded push to every connection in the room here, strictly in seq
   * order: a seq below the next expected one was delivered already and is dropped (no duplicates); a seq
   * above it waits until the missing ones arrive (no gaps), and the listeners hear of the gap.
   */
  deliver(code: string, seq: bigint, bytes: Wire): void {
    const room = this.rooms.get(code);
    if (!room || seq < room.nextSeq) return;
    if (seq > room.nextSeq) {
      const first = room.pending.size === 0;
      room.pending.set(seq, bytes);
      if (first) for (const l of this.listeners) l.gap?.(code);
      return;
    }
    this.fanOut(room, bytes);
    room.nextSeq++;
    if (room.pending.size === 0) return;
    for (let next = room.pending.get(room.nextSeq); next !== undefined; next = room.pending.get(room.nextSeq)) {
      room.pending.delete(room.nextSeq);
      this.fanOut(room, next);
      room.nextSeq++;
    }
  }

  /** The seq the room's next delivered message must carry, and whether later ones are waiting. */
  position(code: string): { nextSeq: bigint; waiting: boolean } | undefined {
    const room = this.rooms.get(code);
    return room && { nextSeq: room.nextSeq, waiting: room.pending.size > 0 };
  }

  /** Sends a push that is not a message (presence, typing from another node) to the room's members here. */
  pushRoom(code: string, bytes: Wire, exceptUser?: string, droppable = false): void {
    const room = this.rooms.get(code);
    if (room) this.fanOut(room, bytes, exceptUser, droppable);
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

  /** Sends bytes to all connections of a user here, except one (the sender's own connection for DMs). */
  sendToUser(username: string, bytes: Wire, except?: Peer): void {
    for (const peer of this.users.get(username) ?? []) if (peer !== except) peer.send(bytes);
  }

  /** Closes every connection of a session but `except` (logout), here and, through the listeners, elsewhere. */
  revokeSession(username: string, token: string, except: Peer): void {
    for (const peer of [...(this.users.get(username) ?? [])]) if (peer !== except && peer.token === token) peer.terminate("SessionRevoked");
    for (const l of this.listeners) l.sessionRevoked?.(username, token);
    const tokenHash = hashToken(token);
    for (const l of this.listeners) l.sessionEnded?.(username, tokenHash);
  }

  /** Closes this node's connections of the session whose token hashes to `tokenHash` (logout on another node). */
  revokeSessionHash(username: string, tokenHash: string): void {
    for (const peer of [...(this.users.get(username) ?? [])]) if (hashToken(peer.token) === tokenHash) peer.terminate("SessionRevoked");
    for (const l of this.listeners) l.sessionEnded?.(username, tokenHash);
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
    const bytes = push({ case: "typing", value: { roomCode: code, username, typing } });
    this.fanOut(room, bytes, username, true);
    for (const l of this.listeners) l.typingChanged?.(code, username, bytes);
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
      return new HubCore({ timers, typingTtlMs: config.typingTtlMs });
    }),
  );
}
