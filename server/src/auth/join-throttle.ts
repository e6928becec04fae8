// Throttles joining rooms by guessed codes: failed joins are counted per user and per IP, and a join is
// refused with RateLimited once either has run out, before the code is even looked up.
import { Context, Effect, Layer } from "effect";
import { RateLimited } from "../errors.ts";
import { usernameKey } from "../store/store.ts";
import { KeyedThrottle, type ThrottleRule } from "./throttle.ts";

export interface JoinThrottleOptions {
  /** Failed joins per user (default 10 per minute). */
  readonly perUser?: ThrottleRule;
  /** Failed joins per IP (default 30 per minute: several users may share an address). */
  readonly perIp?: ThrottleRule;
  readonly maxKeys?: number;
}

export const JOIN_THROTTLE_DEFAULTS = {
  perUser: { limit: 10, windowMs: 60_000 },
  perIp: { limit: 30, windowMs: 60_000 },
} as const satisfies JoinThrottleOptions;

export class JoinThrottle extends Context.Service<JoinThrottle, {
  /** Call before a join: fails with RateLimited (scope "join") while the user or the IP has no failures left. */
  checkJoin(username: string, ip: string): Effect.Effect<void, RateLimited>;
  /** Call after a join answered NOT_FOUND. */
  recordJoinFailure(username: string, ip: string): Effect.Effect<void>;
}>()("protochat/auth/JoinThrottle") {
  static readonly make = (options: JoinThrottleOptions = {}): JoinThrottle["Service"] => {
    const maxKeys = options.maxKeys === undefined ? {} : { maxKeys: options.maxKeys };
    const perUser = new KeyedThrottle(options.perUser ?? JOIN_THROTTLE_DEFAULTS.perUser, maxKeys);
    const perIp = new KeyedThrottle(options.perIp ?? JOIN_THROTTLE_DEFAULTS.perIp, maxKeys);
    return JoinThrottle.of({
      checkJoin: Effect.fn("JoinThrottle.checkJoin")(function* (username: string, ip: string) {
        const user = yield* perUser.check(usernameKey(username));
        const address = yield* perIp.check(ip);
        const retryAfterMs = Math.max(user.allowed ? 0 : user.retryAfterMs, address.allowed ? 0 : address.retryAfterMs);
        if (retryAfterMs > 0) return yield* new RateLimited({ retryAfterMs, scope: "join" });
      }),
      recordJoinFailure: Effect.fn("JoinThrottle.recordJoinFailure")(function* (username: string, ip: string) {
        yield* perUser.record(usernameKey(username));
        yield* perIp.record(ip);
      }),
    });
  };

  /** With the default limits. */
  static readonly layer: Layer.Layer<JoinThrottle> = Layer.sync(JoinThrottle, () => JoinThrottle.make());

  static readonly layerWith = (options: JoinThrottleOptions): Layer.Layer<JoinThrottle> =>
    Layer.sync(JoinThrottle, () => JoinThrottle.make(options));
}
