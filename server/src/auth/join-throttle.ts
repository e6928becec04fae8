// Throttles joining rooms by guessed codes: failed joins are counted per user and per IP, and a join is
// refused with RateLimited once either has run out, before the code is even looked up. The counters live in
// Throttles, so with Redis they hold across the cluster.
import { Context, Effect, Layer } from "effect";
import { RateLimited } from "../errors.ts";
import { usernameKey } from "../store/store.ts";
import { addressKey, type ThrottleRule } from "./throttle.ts";
import { Throttles } from "./throttles.ts";

export interface JoinThrottleOptions {
  /** Failed joins per user (default 10 per minute). */
  readonly perUser?: ThrottleRule;
  /** Failed joins per IP (default 30 per minute: several users may share an address). */
  readonly perIp?: ThrottleRule;
}

export const JOIN_THROTTLE_DEFAULTS = {
  perUser: { limit: 10, windowMs: 60_000 },
  perIp: { limit: 30, windowMs: 60_000 },
} as const satisfies JoinThrottleOptions;

export class JoinThrottle extends Context.Service<
  JoinThrottle,
  {
    /** Call before a join: fails with RateLimited (scope "join") while the user or the IP has no failures left. */
    checkJoin(username: string, ip: string): Effect.Effect<void, RateLimited>;
    /** Call after a join answered NOT_FOUND. */
    recordJoinFailure(username: string, ip: string): Effect.Effect<void>;
  }
>()("protochat/auth/JoinThrottle") {
  static readonly make = Effect.fnUntraced(function* (options: JoinThrottleOptions = {}) {
    const throttles = yield* Throttles;
    const perUser = options.perUser ?? JOIN_THROTTLE_DEFAULTS.perUser;
    const perIp = options.perIp ?? JOIN_THROTTLE_DEFAULTS.perIp;
    return JoinThrottle.of({
      checkJoin: Effect.fn("JoinThrottle.checkJoin")(function* (username: string, ip: string) {
        const user = yield* throttles.apply("joinPerUser", perUser, usernameKey(username), "check");
        const address = yield* throttles.apply("joinPerIp", perIp, addressKey(ip), "check");
        const retryAfterMs = Math.max(user.allowed ? 0 : user.retryAfterMs, address.allowed ? 0 : address.retryAfterMs);
        if (retryAfterMs > 0) return yield* new RateLimited({ retryAfterMs, scope: "join" });
      }),
      recordJoinFailure: Effect.fn("JoinThrottle.recordJoinFailure")(function* (username: string, ip: string) {
        yield* throttles.apply("joinPerUser", perUser, usernameKey(username), "record");
        yield* throttles.apply("joinPerIp", perIp, addressKey(ip), "record");
      }),
    });
  });

  /** With the default limits. */
  static readonly layer: Layer.Layer<JoinThrottle, never, Throttles> = Layer.effect(JoinThrottle, JoinThrottle.make());

  static readonly layerWith = (options: JoinThrottleOptions): Layer.Layer<JoinThrottle, never, Throttles> =>
    Layer.effect(JoinThrottle, JoinThrottle.make(options));
}
