// Cluster-wide membership and online state: who is in each room and who is online, on any node, each user
// counted once however many devices and nodes they use. A node records only what it holds itself (a user
// in a room here, a user online here); the service answers for the whole cluster and says when a change
// is the user's first or last anywhere, which is when JOINED/LEFT and online/offline are pushed.
// Layers: `layerMemory` (embedded, or several nodes in one process sharing a PresenceTable) and
// `RedisPresence.layer` in redis.ts, where a node that dies stops refreshing its liveness key and is reaped.
import { Context, Effect, Layer } from "effect";
import { ServerConfig } from "../config.ts";

/** A user who left a room everywhere, and the room's member count after. */
export interface Departed {
  readonly code: string;
  readonly username: string;
  readonly count: number;
}

/** What disappeared everywhere when a node's entries were removed. */
export interface Reaped {
  readonly left: ReadonlyArray<Departed>;
  readonly offline: ReadonlyArray<string>;
}

export interface PresenceShape {
  /** This node now holds `username` in `code`. `changed`: no node held them before. `members`: sorted, the user included. */
  join(code: string, username: string): Effect.Effect<{ readonly changed: boolean; readonly members: ReadonlyArray<string> }>;
  /** This node no longer holds `username` in `code`. `changed`: no node holds them now. `count`: members after. */
  leave(code: string, username: string): Effect.Effect<{ readonly changed: boolean; readonly count: number }>;
  /** Whether `username` is in room `code` on any node (file downloads are for the room's members). */
  isMember(code: string, username: string): Effect.Effect<boolean>;
  /** Members of each room, in the same order (one round trip for a room list). */
  counts(codes: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<number>>;
  /** This node has (true) or no longer has (false) a connection of `username`; true when that changed the user's state anywhere. */
  setOnline(username: string, online: boolean): Effect.Effect<boolean>;
  /** Online users anywhere, sorted, at most `limit`. */
  online(limit: number): Effect.Effect<{ readonly usernames: ReadonlyArray<string>; readonly truncated: boolean }>;
  /** Removes what nodes that stopped refreshing their liveness held, and says what left everywhere. */
  reapDead(): Effect.Effect<Reaped>;
  /** Removes everything this node holds (graceful stop) and says what left everywhere. */
  leaveAll(): Effect.Effect<Reaped>;
  /**
   * Graceful stop with the presence grace: what this node holds stays for `graceMs` more and is then reaped
   * by the other nodes like a dead node's, so a user who reconnects to another node within it is never
   * announced as gone. The node stops refreshing its liveness; a leave it still makes (a grace that ends
   * before the process does) removes its entry early, as usual.
   */
  release(graceMs: number): Effect.Effect<void>;
}

export class Presence extends Context.Service<Presence, PresenceShape>()("protochat/presence/Presence") {
  /** In-process: one node, or several nodes of one process sharing `table` (tests). */
  static readonly layerMemory = (table?: PresenceTable) =>
    Layer.effect(
      Presence,
      Effect.gen(function* () {
        const config = yield* ServerConfig;
        return (table ?? new PresenceTable()).node(config.nodeId);
      }),
    );
}

const addTo = <K>(map: Map<K, Set<string>>, key: K, node: string): boolean => {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  const before = set.size;
  set.add(node);
  return before === 0 && set.size === 1;
};

const removeFrom = <K>(map: Map<K, Set<string>>, key: K, node: string): boolean => {
  const set = map.get(key);
  if (!set?.delete(node)) return false;
  if (set.size > 0) return false;
  map.delete(key);
  return true;
};

/** The whole cluster's state in one process; `kill(node)` stands in for a node that died (tests). */
export class PresenceTable {
  /** room -> username -> nodes holding the user there. */
  private readonly rooms = new Map<string, Map<string, Set<string>>>();
  private readonly onlineUsers = new Map<string, Set<string>>();
  private readonly dead = new Set<string>();
  /** Nodes released with a grace: dead from this time (ms since the epoch) on. */
  private readonly deadFrom = new Map<string, number>();

  kill(node: string): void {
    this.dead.add(node);
  }

  private removeNode(node: string): Reaped {
    const left: Departed[] = [];
    for (const [code, members] of this.rooms) {
      for (const username of [...members.keys()]) {
        if (removeFrom(members, username, node)) left.push({ code, username, count: members.size });
      }
      if (members.size === 0) this.rooms.delete(code);
    }
    const offline: string[] = [];
    for (const username of [...this.onlineUsers.keys()]) if (removeFrom(this.onlineUsers, username, node)) offline.push(username);
    return { left, offline };
  }

  node(nodeId: string): PresenceShape {
    const members = (code: string) => {
      let m = this.rooms.get(code);
      if (!m) this.rooms.set(code, (m = new Map()));
      return m;
    };
    return {
      join: (code, username) =>
        Effect.sync(() => {
          const m = members(code);
          const changed = addTo(m, username, nodeId);
          return { changed, members: [...m.keys()].sort() };
        }),
      leave: (code, username) =>
        Effect.sync(() => {
          const m = this.rooms.get(code);
          if (!m) return { changed: false, count: 0 };
          const changed = removeFrom(m, username, nodeId);
          const count = m.size;
          if (count === 0) this.rooms.delete(code);
          return { changed, count };
        }),
      isMember: (code, username) => Effect.sync(() => this.rooms.get(code)?.has(username) ?? false),
      counts: (codes) => Effect.sync(() => codes.map((c) => this.rooms.get(c)?.size ?? 0)),
      setOnline: (username, online) =>
        Effect.sync(() => (online ? addTo(this.onlineUsers, username, nodeId) : removeFrom(this.onlineUsers, username, nodeId))),
      online: (limit) =>
        Effect.sync(() => {
          const all = [...this.onlineUsers.keys()].sort();
          return { usernames: all.slice(0, limit), truncated: all.length > limit };
        }),
      reapDead: () =>
        Effect.sync(() => {
          for (const [node, at] of this.deadFrom) {
            if (Date.now() < at) continue;
            this.deadFrom.delete(node);
            this.dead.add(node);
          }
          const left: Departed[] = [];
          const offline: string[] = [];
          for (const node of this.dead) {
            if (node === nodeId) continue;
            const r = this.removeNode(node);
            left.push(...r.left);
            offline.push(...r.offline);
            this.dead.delete(node);
          }
          return { left, offline };
        }),
      leaveAll: () => Effect.sync(() => this.removeNode(nodeId)),
      release: (graceMs) => Effect.sync(() => void this.deadFrom.set(nodeId, Date.now() + graceMs)),
    };
  }
}
