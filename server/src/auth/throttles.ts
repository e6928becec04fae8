// Where throttle counters live: this process (the default) or Redis, so the login, registration and join
// throttles hold across every node of a cluster. One interface, two layers; the bucket arithmetic is the same.
import { Clock, Context, Effect, Layer } from "effect";
import * as Redis from "effect/persistence/Redis";
import { KeyedThrottle, type ThrottleOp, type ThrottleRule, type Verdict, verdictFor } from "./throttle.ts";

export class Throttles extends Context.Service<
  Throttles,
  {
    /**
     * Applies `op` to the bucket `key` of the throttle `name` (one rule per name) and returns the verdict for the
     * balance before the operation. Never fails: if the shared store is unreachable the node's own counters are
     * used (the limit then holds per node) and a warning is logged.
     */
    apply(name: string, rule: ThrottleRule, key: string, op: ThrottleOp): Effect.Effect<Verdict>;
    /** Marks `key` of the set `name` for `ttlMs` (e.g. an address this account logged in from). */
    remember(name: string, key: string, ttlMs: number): Effect.Effect<void>;
    /** Whether `key` of the set `name` is marked and not expired. */
    recall(name: string, key: string): Effect.Effect<boolean>;
  }
>()("protochat/auth/Throttles") {
  /** Counters in this process, bounded to `maxKeys` per throttle (default 100_000; least recently used dropped). */
  static readonly makeMemory = (options: { readonly maxKeys?: number } = {}): Throttles["Service"] => {
    const maxKeys = options.maxKeys ?? 100_000;
    const buckets = new Map<string, KeyedThrottle>();
    const marks = new Map<string, Map<string, number>>();
    const throttleOf = (name: string, rule: ThrottleRule) => {
      let throttle = buckets.get(name);
      if (throttle === undefined) {
        throttle = new KeyedThrottle(rule, { maxKeys });
        buckets.set(name, throttle);
      }
      return throttle;
    };
    const marksOf = (name: string) => {
      let set = marks.get(name);
      if (set === undefined) {
        set = new Map();
        marks.set(name, set);
      }
      return set;
    };
    return Throttles.of({
      apply: (name, rule, key, op) => Effect.map(Clock.currentTimeMillis, (now) => throttleOf(name, rule).applyAt(op, key, now)),
      remember: (name, key, ttlMs) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const set = marksOf(name);
          set.delete(key); // re-insert: the Map's order is recency order
          set.set(key, now + ttlMs);
          while (set.size > maxKeys) set.delete(set.keys().next().value as string);
          // A few of the oldest marks are checked on every write, so expired ones do not pile up.
          let checked = 0;
          for (const [k, expires] of set) {
            if (checked++ >= 2) break;
            if (expires <= now) set.delete(k);
          }
        }),
      recall: (name, key) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const expires = marks.get(name)?.get(key);
          return expires !== undefined && expires > now;
        }),
    });
  };

  static readonly layerMemory: Layer.Layer<Throttles> = Layer.sync(Throttles, () => Throttles.makeMemory());

  /**
   * Counters in Redis under `prefix` (default "protochat:throttle:"), shared by every node using the same Redis.
   * Each bucket is a hash that expires once it would have refilled, so Redis holds only active keys. Time is
   * the calling node's clock (nodes are assumed NTP-synchronised; skew of a few ms is nothing against
   * minute-long windows).
   */
  static readonly makeRedis = Effect.fnUntraced(function* (options: { readonly prefix?: string } = {}) {
    const redis = yield* Redis.Redis;
    const prefix = options.prefix ?? "protochat:throttle:";
    const bucket = redis.eval(bucketScript);
    const local = Throttles.makeMemory();
    let lastWarningMs = 0;
    // While Redis is unreachable, fall back to this node's counters (a per-node limit beats none, and beats
    // refusing every login). A command that fails or takes over 250 ms opens a 2 s break during which Redis is
    // not tried at all, so logins do not wait on a dead connection; warnings at most every 10 s.
    let brokenUntilMs = 0;
    const fallback =
      <A>(what: string, local: Effect.Effect<A>) =>
      (effect: Effect.Effect<A, Redis.RedisError>) =>
        Effect.flatMap(Clock.currentTimeMillis, (start) =>
          start < brokenUntilMs
            ? local
            : effect.pipe(
                Effect.timeoutOrElse({ duration: "250 millis", orElse: () => Effect.fail("timed out after 250 ms" as const) }),
                Effect.catch((error) =>
                  Effect.gen(function* () {
                    const now = yield* Clock.currentTimeMillis;
                    brokenUntilMs = now + 2_000;
                    if (now - lastWarningMs >= 10_000) {
                      lastWarningMs = now;
                      const reason = typeof error === "string" ? error : String((error.cause as Error | undefined)?.message ?? error.cause);
                      yield* Effect.logWarning("throttle store unreachable: using this node's counters", {
                        operation: what,
                        error: reason,
                      });
                    }
                    return yield* local;
                  }),
                ),
              ),
        );
    return Throttles.of({
      apply: (name, rule, key, op) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          bucket(`${prefix}${name}:${key}`, op, rule.limit, rule.windowMs, now, -(rule.maxDebt ?? 0)).pipe(
            Effect.map((before) => verdictFor(rule, Number(before))),
            fallback("apply", local.apply(name, rule, key, op)),
          ),
        ),
      remember: (name, key, ttlMs) =>
        redis
          .send("SET", `${prefix}${name}:${key}`, "1", "PX", String(Math.max(1, Math.ceil(ttlMs))))
          .pipe(Effect.asVoid, fallback("remember", local.remember(name, key, ttlMs))),
      recall: (name, key) =>
        redis.send<number>("EXISTS", `${prefix}${name}:${key}`).pipe(
          Effect.map((n) => Number(n) > 0),
          fallback("recall", local.recall(name, key)),
        ),
    });
  });

  /** Needs `Redis.Redis` (e.g. `NodeRedis.layer({ url })` from @effect/platform-node). */
  static readonly layerRedis = (options: { readonly prefix?: string } = {}): Layer.Layer<Throttles, never, Redis.Redis> =>
    Layer.effect(Throttles, Throttles.makeRedis(options));
}

/**
 * KeyedThrottle's arithmetic in one atomic step: a continuous refill of limit/windowMs, then the operation.
 * Returns the balance before the operation (17 significant digits, so fractions survive the trip).
 */
const bucketScript = Redis.script(
  (key: string, op: ThrottleOp, limit: number, windowMs: number, nowMs: number, floor: number) => [key, op, limit, windowMs, nowMs, floor],
  {
    numberOfKeys: 1,
    lua: `
local key = KEYS[1]
local op = ARGV[1]
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local floor = tonumber(ARGV[5])
local state = redis.call("HMGET", key, "t", "u")
local tokens = limit
if state[1] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(limit, tonumber(state[1]) + elapsed * limit / window)
end
local before = tokens
local write = true
if op == "check" then
  write = false
elseif op == "take" then
  if tokens >= 1 then tokens = tokens - 1 else write = false end
elseif op == "record" then
  tokens = math.max(floor, tokens - 1)
elseif op == "refund" then
  tokens = math.min(limit, tokens + 1)
end
if write then
  if tokens >= limit then
    redis.call("DEL", key)
  else
    redis.call("HSET", key, "t", string.format("%.17g", tokens), "u", string.format("%.17g", now))
    redis.call("PEXPIRE", key, math.ceil((limit - tokens) * window / limit) + 1)
  end
end
return string.format("%.17g", before)
`,
  },
).withReturnType<string>();
