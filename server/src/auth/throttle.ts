// A keyed token-bucket throttle with bounded memory, read through Effect's Clock (so TestClock drives it): the
// bucket arithmetic shared by the in-memory Throttles layer (throttles.ts) and, in Lua, by its Redis layer.
import { Clock, Effect } from "effect";

/**
 * `limit` attempts per `windowMs`: a bucket of `limit` tokens refilled continuously at limit/windowMs, so after a
 * burst of `limit` the key gets one more attempt every windowMs/limit (a steady backoff). `limit: Infinity` = off.
 */
export interface ThrottleRule {
  readonly limit: number;
  readonly windowMs: number;
  /**
   * How far below zero `record` may push the balance (default 0). With debt, every attempt counted while the
   * bucket is empty moves the next allowed attempt further out: from windowMs/limit up to about
   * (1 + maxDebt) * windowMs/limit, a growing delay rather than a fixed lock.
   */
  readonly maxDebt?: number;
}

/** What one call does to a bucket: look, take one if there is one, count one whatever the balance, give one back. */
export type ThrottleOp = "check" | "take" | "record" | "refund";

/** The verdict for the balance a bucket had before an operation (allowed when at least one token was there). */
export const verdictFor = (rule: ThrottleRule, tokens: number): Verdict => {
  if (tokens >= 1) return ALLOWED;
  // The small epsilon keeps floating-point noise (120000.00000000001) from adding a millisecond.
  const waitMs = ((1 - tokens) * rule.windowMs) / rule.limit;
  return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(waitMs - 1e-6)) };
};

export type Verdict = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

const ALLOWED: Verdict = { allowed: true };

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

export interface KeyedThrottleOptions {
  /** Most keys held (default 100_000). Beyond it the least recently used key is forgotten (it may retry early). */
  readonly maxKeys?: number;
}

/**
 * Memory stays bounded two ways: a key whose bucket has refilled is identical to an unseen key and is dropped
 * (a few of the least recently used keys are checked on every call), and at most `maxKeys` keys are held.
 * The Map's insertion order is kept as recency order by re-inserting a key on every write.
 */
export class KeyedThrottle {
  readonly rule: ThrottleRule;
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;
  readonly #off: boolean;

  constructor(rule: ThrottleRule, options: KeyedThrottleOptions = {}) {
    if (!(rule.limit >= 1) || !(rule.windowMs > 0)) throw new RangeError("throttle limit must be >= 1 and windowMs > 0");
    this.rule = rule;
    this.#off = !Number.isFinite(rule.limit);
    this.#maxKeys = Math.max(1, options.maxKeys ?? 100_000);
  }

  /** Keys currently held (for tests and metrics). */
  get size(): number {
    return this.#buckets.size;
  }

  #refilled(bucket: Bucket, nowMs: number): number {
    const elapsed = Math.max(0, nowMs - bucket.updatedAtMs);
    return Math.min(this.rule.limit, bucket.tokens + (elapsed * this.rule.limit) / this.rule.windowMs);
  }

  #tokens(key: string, nowMs: number): number {
    this.#sweep(nowMs);
    const bucket = this.#buckets.get(key);
    return bucket === undefined ? this.rule.limit : this.#refilled(bucket, nowMs);
  }

  #store(key: string, tokens: number, nowMs: number): void {
    this.#buckets.delete(key);
    if (tokens >= this.rule.limit) return;
    this.#buckets.set(key, { tokens, updatedAtMs: nowMs });
    while (this.#buckets.size > this.#maxKeys) {
      const oldest = this.#buckets.keys().next().value as string;
      this.#buckets.delete(oldest);
    }
  }

  #sweep(nowMs: number): void {
    let checked = 0;
    for (const [key, bucket] of this.#buckets) {
      if (checked++ >= 2) break;
      if (this.#refilled(bucket, nowMs) >= this.rule.limit) this.#buckets.delete(key);
    }
  }

  #verdict(tokens: number): Verdict {
    return verdictFor(this.rule, tokens);
  }

  /** Would one more attempt be allowed now? Consumes nothing. */
  checkAt(key: string, nowMs: number): Verdict {
    return this.#off ? ALLOWED : this.#verdict(this.#tokens(key, nowMs));
  }

  /** Takes one token if there is one; when refused, nothing is taken. */
  takeAt(key: string, nowMs: number): Verdict {
    if (this.#off) return ALLOWED;
    const tokens = this.#tokens(key, nowMs);
    const verdict = this.#verdict(tokens);
    if (verdict.allowed) this.#store(key, tokens - 1, nowMs);
    return verdict;
  }

  /** Counts one attempt whatever the balance, down to -maxDebt (e.g. an attempt refused while the bucket is empty). */
  recordAt(key: string, nowMs: number): void {
    if (this.#off) return;
    this.#store(key, Math.max(-(this.rule.maxDebt ?? 0), this.#tokens(key, nowMs) - 1), nowMs);
  }

  /** Applies `op` and returns the verdict for the balance before it (for record and refund: informative only). */
  applyAt(op: ThrottleOp, key: string, nowMs: number): Verdict {
    switch (op) {
      case "check":
        return this.checkAt(key, nowMs);
      case "take":
        return this.takeAt(key, nowMs);
      case "record": {
        const before = this.checkAt(key, nowMs);
        this.recordAt(key, nowMs);
        return before;
      }
      case "refund": {
        const before = this.checkAt(key, nowMs);
        this.refundAt(key, nowMs);
        return before;
      }
    }
  }

  /** Gives back one token (e.g. an attempt taken beforehand turned out to be a success). */
  refundAt(key: string, nowMs: number): void {
    if (this.#off) return;
    this.#store(key, this.#tokens(key, nowMs) + 1, nowMs);
  }

  check(key: string): Effect.Effect<Verdict> {
    return Effect.map(Clock.currentTimeMillis, (now) => this.checkAt(key, now));
  }

  take(key: string): Effect.Effect<Verdict> {
    return Effect.map(Clock.currentTimeMillis, (now) => this.takeAt(key, now));
  }

  record(key: string): Effect.Effect<void> {
    return Effect.map(Clock.currentTimeMillis, (now) => this.recordAt(key, now));
  }

  refund(key: string): Effect.Effect<void> {
    return Effect.map(Clock.currentTimeMillis, (now) => this.refundAt(key, now));
  }
}

/**
 * The network an address belongs to, as a throttle key: the /24 of an IPv4 address, the /64 of an IPv6 one
 * (what one subscriber or one cloud host typically holds). IPv4-mapped IPv6 counts as IPv4. Anything else is
 * returned unchanged.
 */
export const networkOf = (ip: string): string => {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (!ip.includes(":")) return ip;
  const [head = "", tail] = ip.split("%")[0]!.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (Number.parseInt(g, 16) || 0).toString(16))
    .join(":")}::/64`;
};

/**
 * The key of one client address for per-address budgets: an IPv4 address as is, an IPv6 address by its /64
 * (one subscriber's or one host's prefix: counting each of its 2^64 addresses apart would make every
 * per-address budget free to dodge).
 */
export const addressKey = (ip: string): string => {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  return ip.includes(":") ? networkOf(ip) : ip;
};
