// The server as one Layer: configuration in, a listening server out. main.ts runs it as a process;
// testing.ts starts it in-process on port 0 for tests. Embedded (default): SQLite, an in-process bus and
// presence. With --redis-url: the Redis bus and presence, so several nodes serve one chat.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { NodeRedis } from "@effect/platform-node";
import { Effect, Layer } from "effect";
import { Accounts } from "./auth/accounts.ts";
import { JoinThrottle } from "./auth/join-throttle.ts";
import { Bus, type MemoryNetwork } from "./bus/bus.ts";
import { RedisBus } from "./bus/redis.ts";
import { layer as relayLayer } from "./bus/relay.ts";
import { Chat } from "./chat/chat.ts";
import { type Config, ServerConfig } from "./config.ts";
import { Hub } from "./hub/hub.ts";
import { Metrics } from "./metrics.ts";
import { Presence, type PresenceTable } from "./presence/presence.ts";
import { RedisPresence } from "./presence/redis.ts";
import { Rooms } from "./rooms/rooms.ts";
import { Handlers } from "./session/handlers.ts";
import { PostgresStore } from "./store/postgres.ts";
import { SqliteStore } from "./store/sqlite.ts";
import type { Store } from "./store/store.ts";
import { layer as transportLayer } from "./transport/server.ts";

/**
 * The Store the configuration names: PostgreSQL with --database-url (shared by every node), else SQLite in
 * --data-dir. The log names the database without its credentials.
 */
const storeLayer = (config: Config) => {
  if (config.databaseUrl === "") {
    mkdirSync(config.dataDir, { recursive: true });
    const file = join(config.dataDir, "chat.db");
    return SqliteStore.layer({ file }).pipe(Layer.tap(() => Effect.logInfo("store open", { kind: "sqlite", file })));
  }
  const url = new URL(config.databaseUrl);
  const opened = Effect.logInfo("store open", { kind: "postgresql", host: url.host, database: url.pathname.slice(1) });
  return PostgresStore.layer({ url: config.databaseUrl, poolSize: config.databasePoolSize }).pipe(Layer.tap(() => opened));
};

export interface AppOptions {
  readonly defaultMetrics: boolean;
  /** Tests: a Store shared by several in-process nodes (built once), instead of the one the configuration names. */
  readonly store?: Layer.Layer<Store, unknown> | undefined;
  /** Tests: in-process nodes that share a bus and presence without Redis. */
  readonly memory?: { readonly network: MemoryNetwork; readonly table: PresenceTable } | undefined;
}

export const appLayer = (config: Config, options: AppOptions) => {
  const configLayer = Layer.succeed(ServerConfig, config);
  const store = options.store ?? storeLayer(config);
  const minute = 60_000;
  const accounts = Accounts.layerWith({
    sessionTtlMs: config.sessionTtlMs,
    registerPerIp: { limit: config.registerPerIpPerMin, windowMs: minute },
    loginPerIp: { limit: config.loginPerIpPerMin, windowMs: minute },
    loginPerAccount: { limit: config.loginFailuresPerAccount, windowMs: 15 * minute },
  }).pipe(Layer.provide(store));
  const joinThrottle = JoinThrottle.layerWith({
    perUser: { limit: config.joinFailuresPerMin, windowMs: minute },
    perIp: { limit: config.joinFailuresPerMin * 3, windowMs: minute },
  });
  // One Redis client per node (built once: layers are memoized by reference), shared by bus and presence.
  // It must be reachable at start; the log names the host, never the URL (it may carry a password).
  const redis =
    config.redisUrl === ""
      ? undefined
      : NodeRedis.layer({ url: config.redisUrl }).pipe(
          Layer.tapError(() => Effect.logError("cannot reach Redis (--redis-url)", { host: new URL(config.redisUrl).host })),
        );
  const cluster = redis
    ? Layer.mergeAll(RedisBus.layer, RedisPresence.layer).pipe(Layer.provide(Layer.merge(redis, configLayer)))
    : Layer.mergeAll(Bus.layerMemory(options.memory?.network), Presence.layerMemory(options.memory?.table)).pipe(Layer.provide(configLayer));
  const hub = Hub.layer.pipe(Layer.provide(configLayer));
  const base = Layer.mergeAll(configLayer, store, accounts, hub, cluster, joinThrottle, Metrics.layer(options));
  const rooms = Rooms.layer.pipe(Layer.provide(base));
  const chat = Chat.layer.pipe(Layer.provide(base));
  const relay = relayLayer.pipe(Layer.provide(Layer.mergeAll(base, rooms)));
  const handlers = Handlers.layer.pipe(Layer.provide(Layer.mergeAll(base, rooms, chat)));
  return Layer.mergeAll(relay, transportLayer.pipe(Layer.provide(Layer.mergeAll(base, handlers))));
};
