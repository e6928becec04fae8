// The server as one Layer: configuration in, a listening server out. main.ts runs it as a process;
// testing.ts starts it in-process on port 0 for tests.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { NodeRedis } from "@effect/platform-node";
import { Layer } from "effect";
import { Accounts } from "./auth/accounts.ts";
import { JoinThrottle } from "./auth/join-throttle.ts";
import { PasswordHasher } from "./auth/password.ts";
import { Throttles } from "./auth/throttles.ts";
import { Chat } from "./chat/chat.ts";
import { type Config, ServerConfig } from "./config.ts";
import { Hub } from "./hub/hub.ts";
import { Metrics } from "./metrics.ts";
import { Rooms } from "./rooms/rooms.ts";
import { Handlers } from "./session/handlers.ts";
import { SqliteStore } from "./store/sqlite.ts";
import { layer as transportLayer } from "./transport/server.ts";

export const appLayer = (config: Config, options: { defaultMetrics: boolean }) => {
  mkdirSync(config.dataDir, { recursive: true });
  const configLayer = Layer.succeed(ServerConfig, config);
  const store = SqliteStore.layer({ file: join(config.dataDir, "chat.db") });
  const minute = 60_000;
  // One Redis client per node when --redis-url is set (layers are memoized by reference: every service that
  // needs Redis is given this same value). Throttles then hold cluster-wide.
  const redis = config.redisUrl === "" ? undefined : NodeRedis.layer({ url: config.redisUrl });
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
  }).pipe(Layer.provide(Layer.mergeAll(store, throttles, PasswordHasher.layer({ concurrency: config.hashConcurrency, queue: config.hashQueue }))));
  const joinThrottle = JoinThrottle.layerWith({
    perUser: { limit: config.joinFailuresPerMin, windowMs: minute },
    perIp: { limit: config.joinFailuresPerMin * 3, windowMs: minute },
  }).pipe(Layer.provide(throttles));
  const hub = Hub.layer.pipe(Layer.provide(configLayer));
  const base = Layer.mergeAll(configLayer, store, accounts, hub, joinThrottle, Metrics.layer(options));
  const rooms = Rooms.layer.pipe(Layer.provide(base));
  const chat = Chat.layer.pipe(Layer.provide(base));
  const handlers = Handlers.layer.pipe(Layer.provide(Layer.mergeAll(base, rooms, chat)));
  return transportLayer.pipe(Layer.provide(Layer.mergeAll(base, handlers)));
};
