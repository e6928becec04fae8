// Presence in Redis, shared by every node. Each node records what it holds (a user in a room, a user
// online) under its own keys and in cluster-wide counts of nodes per user, in Lua scripts so a change and
// its "first/last anywhere" answer are one atomic step. Each node refreshes a liveness key with a TTL of
// --node-ttl-ms; every node looks for members of `nodes` whose key lapsed (a SIGKILLed node) and removes
// what they held, so their members leave everyone's presence within the TTL plus the reap interval.
// After Redis comes back (empty or not), after this node was reaped while alive, or after a call failed, the
// node reconciles Redis with what it holds. A node that stops gracefully with a presence grace shortens its
// liveness key to the grace instead of removing its entries: the others reap them when it lapses.
// Keys (one Redis or Valkey, not Redis Cluster: the scripts touch keys they compute):
//   p:m:<room>  hash user -> nodes holding the user in the room     p:nm:<node>  hash "<room>:<user>" -> 1
//   p:o         hash user -> nodes where the user is online          p:no:<node>  set of users online there
//   p:ol        sorted set of online users (score 0: by name)
//   p:nodes     set of node ids                                      p:alive:<node>  liveness, PX TTL
import { NodeRedis } from "@effect/platform-node";
import { Effect, FiberSet, Layer, Schedule } from "effect";
import { ServerConfig } from "../config.ts";
import { type Departed, Presence, type PresenceShape, type Reaped } from "./presence.ts";

export const PREFIX = "protochat:p:";
/** A Presence call that Redis does not answer in this long gives the node's own view instead. */
const CALL_TIMEOUT_MS = 2000;

const JOIN = `
local changed = 0
if redis.call('HSETNX', KEYS[1], ARGV[1], '1') == 1 then
  if redis.call('HINCRBY', KEYS[2], ARGV[2], 1) == 1 then changed = 1 end
end
return {changed, redis.call('HKEYS', KEYS[2])}`;

const LEAVE = `
local changed = 0
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  if redis.call('HINCRBY', KEYS[2], ARGV[2], -1) <= 0 then
    redis.call('HDEL', KEYS[2], ARGV[2])
    changed = 1
  end
end
return {changed, redis.call('HLEN', KEYS[2])}`;

const COUNTS = `
local out = {}
for i, k in ipairs(KEYS) do out[i] = redis.call('HLEN', k) end
return out`;

const ONLINE = `
if ARGV[2] == '1' then
  if redis.call('SADD', KEYS[1], ARGV[1]) == 1 and redis.call('HINCRBY', KEYS[2], ARGV[1], 1) == 1 then
    redis.call('ZADD', KEYS[3], 0, ARGV[1])
    return 1
  end
  return 0
end
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 and redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 1
end
return 0`;

/** Removes everything a node holds; returns {room, user, count, ...} that left everywhere and users now offline. */
const REMOVE_NODE = `
local p, node = ARGV[1], ARGV[2]
local left, offline = {}, {}
local nm = p .. 'nm:' .. node
for _, f in ipairs(redis.call('HKEYS', nm)) do
  local sep = string.find(f, ':', 1, true)
  local room, user = string.sub(f, 1, sep - 1), string.sub(f, sep + 1)
  local mk = p .. 'm:' .. room
  if redis.call('HINCRBY', mk, user, -1) <= 0 then
    redis.call('HDEL', mk, user)
    table.insert(left, room)
    table.insert(left, user)
    table.insert(left, redis.call('HLEN', mk))
  end
end
redis.call('DEL', nm)
local no = p .. 'no:' .. node
for _, u in ipairs(redis.call('SMEMBERS', no)) do
  if redis.call('HINCRBY', p .. 'o', u, -1) <= 0 then
    redis.call('HDEL', p .. 'o', u)
    redis.call('ZREM', p .. 'ol', u)
    table.insert(offline, u)
  end
end
redis.call('DEL', no)
redis.call('SREM', p .. 'nodes', node)
redis.call('DEL', p .. 'alive:' .. node)
return {left, offline}`;

const DEAD_NODES = `
local dead = {}
for _, n in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'nodes')) do
  if n ~= ARGV[2] and redis.call('EXISTS', ARGV[1] .. 'alive:' .. n) == 0 then table.insert(dead, n) end
end
return dead`;

/** Refreshes the liveness key; 0 when it had lapsed (first start, Redis restarted empty, or reaped). */
const REFRESH = `
local existed = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return existed`;

export class RedisPresence {
  static readonly layer = Layer.effect(
    Presence,
    Effect.gen(function* () {
      const { client } = yield* NodeRedis.NodeRedis;
      const config = yield* ServerConfig;
      const node = config.nodeId;
      const runHere = yield* FiberSet.makeRuntime<never>();
      const key = {
        members: (room: string) => `${PREFIX}m:${room}`,
        nodeMembers: `${PREFIX}nm:${node}`,
        online: `${PREFIX}o`,
        onlineSorted: `${PREFIX}ol`,
        nodeOnline: `${PREFIX}no:${node}`,
        nodes: `${PREFIX}nodes`,
        alive: `${PREFIX}alive:${node}`,
      };

      // What this node holds, kept here too: written again after Redis lost it, and the answer while
      // Redis is away.
      const held = new Map<string, Set<string>>();
      const onlineHere = new Set<string>();

      // Issued synchronously when the effect starts, so calls from one fiber reach Redis in call order.
      const evalScript = <A>(lua: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string>) =>
        Effect.tryPromise(() => client.sendCommand(["EVAL", lua, String(keys.length), ...keys, ...args]) as Promise<A>).pipe(
          Effect.timeout(CALL_TIMEOUT_MS),
        );
      /** A call failed: Redis may differ from what this node holds until the next reconcile. */
      let dirty = false;
      const degraded =
        <A>(what: string, fallback: () => A) =>
        (cause: unknown) =>
          Effect.logWarning("presence unavailable, answering from this node", { call: what, cause: String(cause) }).pipe(
            Effect.andThen(Effect.sync(() => (dirty = true))),
            Effect.as(fallback()),
          );

      /** Entries gone everywhere that nobody was told of yet: announced by the next reapDead. */
      let stale: Reaped | undefined;
      const addStale = (r: Partial<Reaped>) => {
        stale = { left: [...(stale?.left ?? []), ...(r.left ?? [])], offline: [...(stale?.offline ?? []), ...(r.offline ?? [])] };
      };
      // A call that timed out may still run in Redis later: its answer, if it says someone left everywhere,
      // is announced with the next reap instead of being lost.
      const evalLate = <A>(lua: string, keys: ReadonlyArray<string>, args: ReadonlyArray<string>, onLate: (a: A) => Partial<Reaped>) =>
        Effect.suspend(() => {
          const reply = client.sendCommand(["EVAL", lua, String(keys.length), ...keys, ...args]) as Promise<A>;
          return Effect.tryPromise(() => reply).pipe(
            Effect.timeout(CALL_TIMEOUT_MS),
            Effect.tapCause(() =>
              Effect.sync(() => {
                reply.then((a) => addStale(onLate(a))).catch(() => {});
              }),
            ),
          );
        });

      const join: PresenceShape["join"] = (room, username) =>
        Effect.suspend(() => {
          let set = held.get(room);
          if (!set) held.set(room, (set = new Set()));
          set.add(username);
          return evalScript<[number, string[]]>(JOIN, [key.nodeMembers, key.members(room)], [`${room}:${username}`, username]).pipe(
            Effect.map(([changed, members]) => ({ changed: changed === 1, members: [...members].sort() })),
            Effect.catchCause(degraded("join", () => ({ changed: false, members: [...(held.get(room) ?? [])].sort() }))),
          );
        });

      const leave: PresenceShape["leave"] = (room, username) =>
        Effect.suspend(() => {
          const set = held.get(room);
          set?.delete(username);
          if (set?.size === 0) held.delete(room);
          const late = ([changed, count]: [number, number]) => (changed === 1 ? { left: [{ code: room, username, count }] } : {});
          return evalLate<[number, number]>(LEAVE, [key.nodeMembers, key.members(room)], [`${room}:${username}`, username], late).pipe(
            Effect.map(([changed, count]) => ({ changed: changed === 1, count })),
            // Unknown: say "still members" so no room is destroyed on a guess.
            Effect.catchCause(degraded("leave", () => ({ changed: false, count: 1 }))),
          );
        });

      const counts: PresenceShape["counts"] = (rooms) =>
        rooms.length === 0
          ? Effect.succeed([])
          : evalScript<number[]>(COUNTS, rooms.map(key.members), []).pipe(
              Effect.catchCause(degraded("counts", () => rooms.map((r) => held.get(r)?.size ?? 0))),
            );

      const isMember: PresenceShape["isMember"] = (room, username) =>
        Effect.tryPromise(() => client.sendCommand(["HEXISTS", key.members(room), username]) as Promise<number>).pipe(
          Effect.map((n) => Number(n) === 1),
          Effect.timeout(CALL_TIMEOUT_MS),
          // Unreachable Redis: this node's own view (a member on another node is refused until it answers again).
          Effect.catchCause(() => Effect.succeed(held.get(room)?.has(username) ?? false)),
        );

      const setOnline: PresenceShape["setOnline"] = (username, online) =>
        Effect.suspend(() => {
          if (online) onlineHere.add(username);
          else onlineHere.delete(username);
          const late = (changed: number) => (changed === 1 && !online ? { offline: [username] } : {});
          return evalLate<number>(ONLINE, [key.nodeOnline, key.online, key.onlineSorted], [username, online ? "1" : "0"], late).pipe(
            Effect.map((changed) => changed === 1),
            Effect.catchCause(degraded("setOnline", () => false)),
          );
        });

      // A sorted set (all scores 0: ordered by name) so a page of the list costs O(log n + limit), not the whole set.
      const online: PresenceShape["online"] = (limit) =>
        Effect.tryPromise(() => client.sendCommand(["ZRANGE", key.onlineSorted, "0", String(limit)]) as Promise<string[]>).pipe(
          Effect.timeout(CALL_TIMEOUT_MS),
          Effect.catchCause(degraded("online", () => [...onlineHere].sort().slice(0, limit + 1))),
          Effect.map((page) => ({ usernames: page.slice(0, limit), truncated: page.length > limit })),
        );

      const parseRemoved = ([left, offline]: [Array<string | number>, string[]]): Reaped => {
        const out: Departed[] = [];
        for (let i = 0; i + 2 < left.length; i += 3)
          out.push({ code: String(left[i]), username: String(left[i + 1]), count: Number(left[i + 2]) });
        return { left: out, offline };
      };
      const removeNode = (id: string) =>
        evalScript<[Array<string | number>, string[]]>(REMOVE_NODE, [], [PREFIX, id]).pipe(Effect.map(parseRemoved));

      // A node restarted under the same --node-id within the TTL would keep its predecessor's entries alive
      // forever: they are removed at start, and the first reap announces them.
      addStale(yield* removeNode(node).pipe(Effect.orElseSucceed((): Partial<Reaped> => ({}))));

      const reapDead: PresenceShape["reapDead"] = () =>
        evalScript<string[]>(DEAD_NODES, [], [PREFIX, node]).pipe(
          Effect.map((dead) => {
            const previous = stale;
            stale = undefined;
            return { dead, previous };
          }),
          Effect.flatMap(({ dead, previous }) =>
            Effect.forEach(dead, removeNode).pipe(Effect.map((all) => (previous ? [previous, ...all] : all))),
          ),
          Effect.map((all) => ({ left: all.flatMap((r) => r.left), offline: all.flatMap((r) => r.offline) })),
          Effect.tap((r) =>
            r.left.length + r.offline.length > 0
              ? Effect.logInfo("reaped the presence of stopped nodes", { left: r.left.length, offline: r.offline.length })
              : Effect.void,
          ),
          Effect.catchCause(degraded("reap", (): Reaped => ({ left: [], offline: [] }))),
        );

      /** Set by `release`: the liveness key is left to lapse, so nothing may refresh it again. */
      let released = false;
      const release: PresenceShape["release"] = (graceMs) =>
        Effect.suspend(() => {
          released = true;
          return Effect.tryPromise(() => client.sendCommand(["SET", key.alive, "1", "PX", String(Math.max(1, graceMs))])).pipe(
            Effect.timeout(CALL_TIMEOUT_MS),
            Effect.asVoid,
            // Not shortened: the entries go with the usual liveness TTL instead.
            Effect.catchCause(degraded("release", () => undefined)),
          );
        });

      const leaveAll: PresenceShape["leaveAll"] = () =>
        Effect.suspend(() => {
          held.clear();
          onlineHere.clear();
          return removeNode(node).pipe(Effect.catchCause(degraded("leaveAll", (): Reaped => ({ left: [], offline: [] }))));
        });

      // Makes Redis hold exactly what this node holds: after Redis restarted empty, after this node was reaped
      // while alive (a long pause), or after calls failed while Redis was unreachable. Every script is
      // idempotent, so calls racing with this one do no harm. Entries removed here are announced (LEFT,
      // offline) at the next reap; entries written back are not (clients already know those members).
      const reconcile = Effect.gen(function* () {
        const [fields, users] = yield* Effect.all([
          Effect.tryPromise(() => client.sendCommand(["HKEYS", key.nodeMembers]) as Promise<string[]>),
          Effect.tryPromise(() => client.sendCommand(["SMEMBERS", key.nodeOnline]) as Promise<string[]>),
        ]);
        const inRedis = new Set(fields);
        const writes: Array<Effect.Effect<Partial<Reaped>, unknown>> = [];
        for (const [room, members] of held) {
          for (const u of members) {
            if (!inRedis.has(`${room}:${u}`))
              writes.push(evalScript(JOIN, [key.nodeMembers, key.members(room)], [`${room}:${u}`, u]).pipe(Effect.as({})));
          }
        }
        for (const f of fields) {
          const sep = f.indexOf(":");
          const room = f.slice(0, sep);
          const u = f.slice(sep + 1);
          if (held.get(room)?.has(u)) continue;
          writes.push(
            evalScript<[number, number]>(LEAVE, [key.nodeMembers, key.members(room)], [f, u]).pipe(
              Effect.map(([changed, count]) => (changed === 1 ? { left: [{ code: room, username: u, count }] } : {})),
            ),
          );
        }
        const onlineInRedis = new Set(users);
        for (const u of onlineHere)
          if (!onlineInRedis.has(u))
            writes.push(evalScript(ONLINE, [key.nodeOnline, key.online, key.onlineSorted], [u, "1"]).pipe(Effect.as({})));
        for (const u of users) {
          if (onlineHere.has(u)) continue;
          writes.push(
            evalScript<number>(ONLINE, [key.nodeOnline, key.online, key.onlineSorted], [u, "0"]).pipe(
              Effect.map((changed) => (changed === 1 ? { offline: [u] } : {})),
            ),
          );
        }
        const results = yield* Effect.all(writes, { concurrency: "unbounded" });
        const removed: Reaped = { left: results.flatMap((r) => r.left ?? []), offline: results.flatMap((r) => r.offline ?? []) };
        addStale(removed);
        if (writes.length > 0) yield* Effect.logInfo("presence reconciled with Redis", { writes: writes.length });
      }).pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning("presence reconcile failed", { cause: String(cause) }).pipe(Effect.andThen(Effect.sync(() => (dirty = true)))),
        ),
      );

      let started = false;
      const refresh = Effect.suspend(() => (released ? Effect.void : refreshNow));
      const refreshNow = evalScript<number>(REFRESH, [key.alive, key.nodes], [String(config.nodeTtlMs), node]).pipe(
        Effect.flatMap((existed) => {
          if (!((existed === 0 && started) || dirty)) return Effect.void;
          dirty = false;
          return reconcile;
        }),
        Effect.tap(() => Effect.sync(() => (started = true))),
        Effect.catchCause((cause) => Effect.logWarning("presence liveness refresh failed", { cause: String(cause) })),
      );
      yield* refresh;
      yield* refresh.pipe(Effect.repeat(Schedule.spaced(Math.max(100, Math.floor(config.nodeTtlMs / 3)))), Effect.forkScoped);
      // Back from a disconnection or a Redis restart: calls may have failed meanwhile, and Redis may have
      // lost everything; do not wait for the next refresh.
      // (The client was connected before this listener was added: every "ready" here is a reconnection.)
      const onReady = () => {
        dirty = true;
        runHere(refresh);
      };
      client.on("ready", onReady);
      yield* Effect.addFinalizer(() => Effect.sync(() => client.off("ready", onReady)));

      return Presence.of({ join, leave, isMember, counts, setOnline, online, reapDead, leaveAll, release });
    }),
  );
}
