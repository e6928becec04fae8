// Password hashing: argon2id (Node 24's built-in crypto.argon2) at OWASP parameters, stored as a PHC string.
// Verification uses the parameters recorded in the stored string, so they can be raised later without a migration.
import { argon2, randomBytes, timingSafeEqual } from "node:crypto";
import { Effect } from "effect";

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
