// The server as one Layer: configuration in, a listening server out. main.ts runs it as a process;
// testing.ts starts it in-process on port 0 for tests. Embedded (default): SQLite, an in-process bus and
// presence. With --redis-url: the Redis bus and presence, so several nodes serve one chat.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { NodeRedis } from "@effect/platform-node";
import { Effect, Layer } from "effect";
import { Accounts } from "./auth/accounts.ts";
import { JoinThrottle } from "./auth/join-throttle.ts";
import { PasswordHasher } from "./auth/password.ts";
import { Throttles } from "./auth/throttles.ts";
import { Bus, type MemoryNetwork } from "./bus/bus.ts";
import { RedisBus } from "./bus/redis.ts";
import { layer as relayLayer } from "./bus/relay.ts";
import { Chat } from "./chat/chat.ts";
import { layerFs as blobStoreFs } from "./files/blob-store-fs.ts";
import { layerPg as blobStorePg } from "./files/blob-store-pg.ts";
import { Files } from "./files/files.ts";
import { type Config, ServerConfig } from "./config.ts";
import { Hub } from "./hub/hub.ts";
import { Metrics } from "./metrics.ts";
import { Presence, type PresenceTable } from "./presence/presence.ts";
import { RedisPresence } from "./presence/redis.ts";
import { Rooms } from "./rooms/rooms.ts";
import { Handlers } from "./session/handlers.ts";
import { PostgresStore } from "./store/postgres.ts";
import { SqliteStore } from "./store/sqlite.ts";
import { Store } from "./store/store.ts";
import { layer as transportLayer } from "./transport/server.ts";

/**
 * The Store the configuration names: PostgreSQL with --database-url (shared by every node), else SQLite in
 * --data-dir. The log names the database without its credentials.
 */
const storeLayer = (config: Config) => {
  // Logged once the store is open (a layer after it, so the line is written once however often it is used).
  const opened = (fields: Record<string, unknown>) =>
    Layer.effectDiscard(
      Effect.gen(function* () {
        yield* Store;
        yield* Effect.logInfo("store open", fields);
      }),
    );
  if (config.databaseUrl === "") {
    mkdirSync(config.dataDir, { recursive: true });
    const file = join(config.dataDir, "chat.db");
    return opened({ kind: "sqlite", file }).pipe(Layer.provideMerge(SqliteStore.layer({ file })));
  }
  const url = new URL(config.databaseUrl);
  return opened({ kind: "postgresql", host: url.host, database: url.pathname.slice(1) }).pipe(
    Layer.provideMerge(PostgresStore.layer({ url: config.databaseUrl, poolSize: config.databasePoolSize })),
  );
};

/** Uploaded files beside the Store: under --data-dir/files, or in the same PostgreSQL database. */
const blobStoreLayer = (config: Config) =>
  config.databaseUrl === ""
    ? blobStoreFs(join(config.dataDir, "files"))
    : blobStorePg({ url: config.databaseUrl, poolSize: Math.max(2, Math.ceil(config.databasePoolSize / 2)) });

export interface AppOptions {
  readonly defaultMetrics: boolean;
  /** Tests: a Store shared by several in-process nodes (built once), instead of the one the configuration names. */
  readonly store?: ReturnType<typeof storeLayer> | undefined;
  /** Tests: in-process nodes that share a bus and presence without Redis. */
  readonly memory?: { readonly network: MemoryNetwork; readonly table: PresenceTable } | undefined;
}

export const appLayer = (config: Config, options: AppOptions) => {
  const configLayer = Layer.succeed(ServerConfig, config);
  const store = options.store ?? storeLayer(config);
  const minute = 60_000;
  // One Redis client per node when --redis-url is set (layers are memoized by reference: every service that
  // needs Redis — throttles, bus, presence — is given this same value), so throttles hold cluster-wide. It must
  // be reachable at start; the log names the host, never the URL (it may carry a password).
  const redis =
    config.redisUrl === ""
      ? undefined
      : NodeRedis.layer({ url: config.redisUrl }).pipe(
          Layer.tapError(() => Effect.logError("cannot reach Redis (--redis-url)", { host: new URL(config.redisUrl).host })),
        );
  const throttles = redis === undefined ? Throttles.layerMemory : Throttles.layerRedis().pipe(Layer.provide(redis));
  const accounts = Accounts.layerWith({
    sessionTtlMs: config.sessionTtlMs,
    registerPerIp: { limit: config.registerPerIpPerMin, windowMs: minute },
    registerPerNetwork: { limit: config.registerPerNetworkPerMin, windowMs: minute },
    registerGlobal: { limit: config.registerPerMin, windowMs: minute },
    loginPerIp: { limit: config.loginPerIpPerMin, windowMs: minute },
    loginPerAccountAddress: { limit: config.loginFailuresPerAccountIp, windowMs: 15 * minute },
    loginPerAccount: { limit: config.loginFailuresPerAccount, windowMs: 15 * minute, maxDebt: config.loginFailuresPerAccount },
    unknownUserHashes: { limit: config.unknownUserHashesPerMin, windowMs: minute },
  }).pipe(
    Layer.provide(Layer.mergeAll(store, throttles, PasswordHasher.layer({ concurrency: config.hashConcurrency, queue: config.hashQueue }))),
  );
  const joinThrottle = JoinThrottle.layerWith({
    perUser: { limit: config.joinFailuresPerMin, windowMs: minute },
    perIp: { limit: config.joinFailuresPerMin * 3, windowMs: minute },
  }).pipe(Layer.provide(throttles));
  const cluster = redis
    ? Layer.mergeAll(RedisBus.layer, RedisPresence.layer).pipe(Layer.provide(Layer.merge(redis, configLayer)))
    : Layer.mergeAll(Bus.layerMemory(options.memory?.network), Presence.layerMemory(options.memory?.table)).pipe(
        Layer.provide(configLayer),
      );
  const hub = Hub.layer.pipe(Layer.provide(configLayer));
  const blobs = blobStoreLayer(config);
  const files = Files.layer.pipe(Layer.provide(Layer.merge(blobs, configLayer)));
  const base = Layer.mergeAll(configLayer, store, accounts, hub, cluster, joinThrottle, Metrics.layer(options), blobs, files);
  const rooms = Rooms.layer.pipe(Layer.provide(base));
  const chat = Chat.layer.pipe(Layer.provide(base));
  const relay = relayLayer.pipe(Layer.provide(Layer.mergeAll(base, rooms)));
  const handlers = Handlers.layer.pipe(Layer.provide(Layer.mergeAll(base, rooms, chat)));
  return Layer.mergeAll(relay, transportLayer.pipe(Layer.provide(Layer.mergeAll(base, handlers))));
};
