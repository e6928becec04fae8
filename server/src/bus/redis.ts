// The Bus over Redis pub/sub (node-redis through @effect/platform-node's NodeRedis): every node publishes
// to one channel and subscribes to it on a connection of its own, in binary (the events of bus.ts's
// encodeEvent). Pub/sub is at-most-once: a message lost while Redis is away is filled from the store by
// the relay, which hears of every resubscription through `reconnected`.
import { NodeRedis } from "@effect/platform-node";
import { Effect, FiberSet, Layer } from "effect";
import { ServerConfig } from "../config.ts";
import { Bus, type BusShape, decodeEvent, encodeEvent } from "./bus.ts";

export const CHANNEL = "protochat:bus";

export class RedisBus {
  static readonly layer = Layer.effect(
    Bus,
    Effect.gen(function* () {
      const { client } = yield* NodeRedis.NodeRedis;
      const config = yield* ServerConfig;
      const nodeId = config.nodeId;
      const runHere = yield* FiberSet.makeRuntime<never>();
      const warn = (message: string, fields: Record<string, unknown>) => {
        runHere(Effect.logWarning(message, fields));
      };
      let failedPublishes = 0;

      const shape: BusShape = {
        nodeId,
        standalone: false,
        publish(event) {
          // While Redis is away nothing is queued (the client's offline queue would grow without bound):
          // the other nodes catch up from the store when their subscriptions come back.
          if (!client.isReady) {
            failedPublishes++;
            return;
          }
          client.sendCommand(["PUBLISH", CHANNEL, encodeEvent(nodeId, event)]).catch(() => {
            if (failedPublishes++ % 1000 === 0) warn("bus publish failed", { failed: failedPublishes });
          });
        },
        subscribe: (handler) =>
          Effect.acquireRelease(
            Effect.tryPromise(async () => {
              const subscriber = client.duplicate();
              let readies = 0;
              subscriber.on("error", (cause: unknown) => warn("bus subscriber error", { cause: String(cause) }));
              subscriber.on("ready", () => {
                if (readies++ > 0) {
                  warn("bus reconnected: local rooms catch up from the store", {});
                  handler.reconnected();
                }
              });
              await subscriber.connect();
              await subscriber.subscribe(
                CHANNEL,
                (message: Buffer) => {
                  let decoded;
                  try {
                    decoded = decodeEvent(message);
                  } catch {
                    warn("malformed bus event ignored", { bytes: message.length });
                    return;
                  }
                  if (decoded.origin !== nodeId) handler.event(decoded.event);
                },
                true,
              );
              return subscriber;
            }).pipe(Effect.orDie),
            (subscriber) =>
              Effect.sync(() => {
                if (subscriber.isOpen) subscriber.destroy();
              }),
          ).pipe(Effect.asVoid),
      };
      return shape;
    }),
  );
}
