// A keyed token-bucket throttle with bounded memory, read through Effect's Clock (so TestClock drives it).
// Used for login per account and per IP, register per IP and failed joins; always consulted BEFORE any hashing.
import { Clock, Effect } from "effect";

/**
 * `limit` attempts per `windowMs`: a bucket of `limit` tokens refilled continuously at limit/windowMs, so after a
 * burst of `limit` the key gets one more attempt every windowMs/limit (a steady backoff). `limit: Infinity` = off.
 */
export interface ThrottleRule {
  readonly limit: number;
  readonly windowMs: number;
}

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
    if (tokens >= 1) return ALLOWED;
    // The small epsilon keeps floating-point noise (120000.00000000001) from adding a millisecond.
    const waitMs = ((1 - tokens) * this.rule.windowMs) / this.rule.limit;
    return { allowed: false, retryAfterMs: Math.max(1, Math.ceil(waitMs - 1e-6)) };
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

  /** Counts one attempt whatever the balance (e.g. a failure that was checked, not taken, beforehand). */
  recordAt(key: string, nowMs: number): void {
    if (this.#off) return;
    this.#store(key, Math.max(0, this.#tokens(key, nowMs) - 1), nowMs);
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
