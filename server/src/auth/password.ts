// Password hashing: argon2id (Node 24's built-in crypto.argon2) at OWASP parameters, stored as a PHC string,
// behind one bounded per-node budget (PasswordHasher). Verification uses the parameters recorded in the stored
// string, so they can be raised later without a migration.
import { argon2, randomBytes, timingSafeEqual } from "node:crypto";
import { Context, Effect, Layer, Semaphore } from "effect";
import { RateLimited } from "../errors.ts";

/** OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane. */
export const ARGON2_PARAMS = { memory: 19_456, passes: 2, parallelism: 1, saltBytes: 16, tagBytes: 32 } as const;

interface Argon2Cost {
  readonly memory: number;
  readonly passes: number;
  readonly parallelism: number;
}

const derive = (password: string, salt: Uint8Array, cost: Argon2Cost, tagLength: number): Effect.Effect<Buffer> =>
  Effect.callback<Buffer>((resume) => {
    // Runs on libuv's thread pool; an error here means bad parameters, i.e. a bug, so it is a defect.
    argon2("argon2id", { message: password, nonce: salt, tagLength, ...cost }, (error, key) =>
      resume(error ? Effect.die(error) : Effect.succeed(key)),
    );
  });

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString("base64").replace(/=+$/, "");

/** Hashes a password with a fresh 16-byte salt: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>` (unpadded base64). */
export const hashPassword = Effect.fn("password.hash")(function* (password: string) {
  const salt = randomBytes(ARGON2_PARAMS.saltBytes);
  const tag = yield* derive(password, salt, ARGON2_PARAMS, ARGON2_PARAMS.tagBytes);
  const { memory, passes, parallelism } = ARGON2_PARAMS;
  return `$argon2id$v=19$m=${memory},t=${passes},p=${parallelism}$${b64(salt)}$${b64(tag)}`;
});

interface ParsedPhc extends Argon2Cost {
  readonly salt: Buffer;
  readonly tag: Buffer;
}

const PHC = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,3}),p=(\d{1,2})\$([A-Za-z0-9+/]{11,})\$([A-Za-z0-9+/]{6,})$/;

/** Parses a stored argon2id PHC string; undefined if malformed or its cost is outside sane bounds. */
export const parsePhc = (phc: string): ParsedPhc | undefined => {
  const match = PHC.exec(phc);
  if (!match) return undefined;
  const [memory, passes, parallelism] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const salt = Buffer.from(match[4]!, "base64");
  const tag = Buffer.from(match[5]!, "base64");
  // Bounds keep a corrupted row from costing gigabytes or minutes per login.
  if (parallelism < 1 || memory < 8 * parallelism || memory > 1_048_576 || passes < 1 || passes > 100) return undefined;
  if (salt.length < 8 || tag.length < 4 || tag.length > 64) return undefined;
  return { memory, passes, parallelism, salt, tag };
};

/** True when `password` matches the stored PHC string (constant-time compare). False for a malformed string. */
export const verifyPassword = Effect.fn("password.verify")(function* (password: string, phc: string) {
  const parsed = parsePhc(phc);
  if (parsed === undefined) return false;
  const tag = yield* derive(password, parsed.salt, parsed, parsed.tag.length);
  return timingSafeEqual(tag, parsed.tag);
});

/** A PHC string no password is expected to match (fixed salt, arbitrary tag), at the current parameters. */
const DUMMY_PHC = `$argon2id$v=19$m=${ARGON2_PARAMS.memory},t=${ARGON2_PARAMS.passes},p=${ARGON2_PARAMS.parallelism}$${b64(
  Buffer.alloc(ARGON2_PARAMS.saltBytes, 0x5a),
)}$${b64(Buffer.alloc(ARGON2_PARAMS.tagBytes, 0xa5))}`;

/** Spends one hash's worth of time on an unknown user, so "no such user" and "wrong password" look alike. */
export const verifyDummy = Effect.fn("password.verifyDummy")(function* (password: string) {
  yield* verifyPassword(password, DUMMY_PHC);
});

export interface HashBudgetOptions {
  /** Hashes run at once (default 2). Each holds a libuv thread and about one core for ~30 ms. */
  readonly concurrency?: number;
  /** Hashes that may wait for a slot (default 32); beyond it register/login answer RATE_LIMITED at once. */
  readonly queue?: number;
}

export const HASH_BUDGET_DEFAULTS = { concurrency: 2, queue: 32 } as const;

/**
 * Every password hash on this node goes through one bounded budget: `concurrency` at once, `queue` waiting,
 * and anything beyond refused immediately with RateLimited (scope "hash") rather than queued without bound,
 * so a burst of logins and registrations from any number of addresses costs at most `concurrency` cores and
 * a bounded wait.
 */
export class PasswordHasher extends Context.Service<
  PasswordHasher,
  {
    hash(password: string): Effect.Effect<string, RateLimited>;
    verify(password: string, phc: string): Effect.Effect<boolean, RateLimited>;
    /** One hash's worth of work for an unknown user (see verifyDummy). */
    verifyDummy(password: string): Effect.Effect<void, RateLimited>;
    /** Waits about as long as a hash takes here lately, without hashing (for unknown users over their budget). */
    readonly imitate: Effect.Effect<void>;
    /** Hashes running or waiting now (for tests and metrics). */
    readonly pending: Effect.Effect<number>;
  }
>()("protochat/auth/PasswordHasher") {
  static readonly make = (options: HashBudgetOptions = {}): PasswordHasher["Service"] => {
    const concurrency = Math.max(1, options.concurrency ?? HASH_BUDGET_DEFAULTS.concurrency);
    const queue = Math.max(0, options.queue ?? HASH_BUDGET_DEFAULTS.queue);
    const slots = Semaphore.makeUnsafe(concurrency);
    let admitted = 0;
    // A moving average of recent hash times, for retry_after_ms and for imitate.
    let averageMs = 30;
    const gated = <A>(work: Effect.Effect<A>): Effect.Effect<A, RateLimited> =>
      Effect.suspend(() => {
        if (admitted >= concurrency + queue) {
          const retryAfterMs = Math.max(100, Math.ceil((admitted / concurrency) * averageMs));
          return Effect.fail(new RateLimited({ retryAfterMs, scope: "hash" }));
        }
        admitted++;
        const timed = Effect.suspend(() => {
          const started = performance.now();
          return Effect.tap(work, () => Effect.sync(() => (averageMs = averageMs * 0.9 + (performance.now() - started) * 0.1)));
        });
        return Semaphore.withPermit(slots)(timed).pipe(Effect.ensuring(Effect.sync(() => admitted--)));
      });
    return PasswordHasher.of({
      hash: (password) => gated(hashPassword(password)),
      verify: (password, phc) => gated(verifyPassword(password, phc)),
      verifyDummy: (password) => gated(verifyDummy(password)),
      imitate: Effect.suspend(() => Effect.sleep(Math.round(averageMs))),
      pending: Effect.sync(() => admitted),
    });
  };

  static readonly layer = (options: HashBudgetOptions = {}): Layer.Layer<PasswordHasher> =>
    Layer.sync(PasswordHasher, () => PasswordHasher.make(options));
}
