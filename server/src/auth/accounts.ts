// Accounts: register, log in, resume and log out with session tokens. Throttles are consulted before any
// password hashing, and hashing runs within a bounded budget; an unknown user and a wrong password fail alike.
import { Buffer } from "node:buffer";
import { Clock, Context, Effect, Layer } from "effect";
import { InvalidArgument, RateLimited, type StorageUnavailable, StoreError, Unauthenticated, UsernameTaken } from "../errors.ts";
import { Store, usernameKey } from "../store/store.ts";
import { PasswordHasher } from "./password.ts";
import { addressKey, networkOf, type ThrottleRule } from "./throttle.ts";
import { Throttles } from "./throttles.ts";
import { hashToken, isWellFormedToken, mintToken } from "./tokens.ts";

/** What a successful register/login/resume hands to the connection (AuthOk). */
export interface AuthSession {
  readonly username: string;
  readonly token: string;
  readonly expiresAtMs: number;
}

export interface AccountsOptions {
  /** Session token lifetime (default 30 days). */
  readonly sessionTtlMs?: number;
  /** Login attempts per address, any account (default 20 per minute; successes are given back). */
  readonly loginPerIp?: ThrottleRule;
  /** Failed logins per account from one address (default 5 per 15 minutes, then one more every 3 minutes). */
  readonly loginPerAccountAddress?: ThrottleRule;
  /**
   * Failed logins per account from addresses it has not logged in from before (default 20 per 15 minutes,
   * then a delay that grows with every further attempt up to about 15 minutes). Addresses the account
   * registered or logged in from within `knownAddressTtlMs` are not held back by it.
   */
  readonly loginPerAccount?: ThrottleRule;
  /** How long a successful login makes its address known to the account (default: the session lifetime). */
  readonly knownAddressTtlMs?: number;
  /** Login attempts for users that do not exist which are answered after a real (dummy) hash, cluster-wide (default 120 per minute; beyond it the reply waits as long as a hash would, without hashing). */
  readonly unknownUserHashes?: ThrottleRule;
  /** Registrations (attempts) per address (default 20 per minute). */
  readonly registerPerIp?: ThrottleRule;
  /** Registrations per network, /24 for IPv4 and /64 for IPv6 (default 60 per minute). */
  readonly registerPerNetwork?: ThrottleRule;
  /** Registrations from everywhere, cluster-wide (default 300 per minute). */
  readonly registerGlobal?: ThrottleRule;
}

const MINUTE = 60_000;

export const ACCOUNTS_DEFAULTS = {
  sessionTtlMs: 30 * 24 * 60 * MINUTE,
  loginPerIp: { limit: 20, windowMs: MINUTE },
  loginPerAccountAddress: { limit: 5, windowMs: 15 * MINUTE },
  loginPerAccount: { limit: 20, windowMs: 15 * MINUTE, maxDebt: 20 },
  unknownUserHashes: { limit: 120, windowMs: MINUTE },
  registerPerIp: { limit: 20, windowMs: MINUTE },
  registerPerNetwork: { limit: 60, windowMs: MINUTE },
  registerGlobal: { limit: 300, windowMs: MINUTE },
} as const;

const DISALLOWED = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
const EDGE_SPACE = /^\s|\s$/u;

/**
 * Checks a username as the contract states it (NFC, 1-32 code points, no control or format characters, no
 * leading or trailing white space) and returns its NFC form, or the reason it is refused.
 */
export const checkUsername = (raw: string): { readonly username: string } | { readonly problem: string } => {
  const username = raw.normalize("NFC");
  const length = [...username].length;
  if (length < 1 || length > 32) return { problem: "username must be 1-32 characters" };
  if (DISALLOWED.test(username)) return { problem: "username must not contain control or format characters" };
  if (EDGE_SPACE.test(username)) return { problem: "username must not start or end with white space" };
  return { username };
};

/** Password length in UTF-8 bytes, as the contract states it: 8-256. */
export const checkPassword = (password: string): string | undefined => {
  const bytes = Buffer.byteLength(password, "utf8");
  return bytes < 8 || bytes > 256 ? "password must be 8-256 bytes of UTF-8" : undefined;
};

export class Accounts extends Context.Service<
  Accounts,
  {
    register(
      username: string,
      password: string,
      ip: string,
    ): Effect.Effect<AuthSession, InvalidArgument | UsernameTaken | RateLimited | StoreError | StorageUnavailable>;
    /** Unknown user and wrong password both fail with Unauthenticated, after one hash each. */
    login(
      username: string,
      password: string,
      ip: string,
    ): Effect.Effect<AuthSession, Unauthenticated | RateLimited | StoreError | StorageUnavailable>;
    /** The session of a token (same token back), or Unauthenticated if unknown, revoked or expired. Never throttled. */
    resume(token: string): Effect.Effect<AuthSession, Unauthenticated | StoreError | StorageUnavailable>;
    /** Revokes the token's session; unknown tokens are ignored. */
    logout(token: string): Effect.Effect<void, StoreError | StorageUnavailable>;
    /** The same as resume; used on the token at the HTTP upgrade. */
    authenticateToken(token: string): Effect.Effect<AuthSession, Unauthenticated | StoreError | StorageUnavailable>;
  }
>()("protochat/auth/Accounts") {
  /**
   * Login throttling follows OWASP's Authentication Cheat Sheet so that an attacker cannot lock a real user
   * out: failures are counted per address, per account-and-address, and per account only for addresses the
   * account has never logged in from; resume with a session token is never throttled. Every budget is taken
   * before hashing (so parallel guesses count) and given back on success.
   */
  static readonly make = Effect.fnUntraced(function* (options: AccountsOptions = {}) {
    const store = yield* Store;
    const throttles = yield* Throttles;
    const hasher = yield* PasswordHasher;
    type ThrottleName = Exclude<keyof typeof ACCOUNTS_DEFAULTS, "sessionTtlMs">;
    const rule = (name: ThrottleName): ThrottleRule => options[name] ?? ACCOUNTS_DEFAULTS[name];
    const sessionTtlMs = options.sessionTtlMs ?? ACCOUNTS_DEFAULTS.sessionTtlMs;
    const knownAddressTtlMs = options.knownAddressTtlMs ?? sessionTtlMs;

    /** One budget of one throttle: `take` before the work, `refund` if the attempt turns out not to count. */
    const budget = (name: ThrottleName, key: string, scope: RateLimited["scope"]) => {
      const r = rule(name);
      return {
        take: Effect.flatMap(throttles.apply(name, r, key, "take"), (v) =>
          v.allowed ? Effect.void : Effect.fail(new RateLimited({ retryAfterMs: v.retryAfterMs, scope })),
        ),
        refund: throttles.apply(name, r, key, "refund"),
        record: throttles.apply(name, r, key, "record"),
      };
    };
    type Budget = ReturnType<typeof budget>;

    /** Takes every budget in order; if one refuses, those already taken are given back. */
    const takeAll = Effect.fnUntraced(function* (budgets: ReadonlyArray<Budget>) {
      const taken: Budget[] = [];
      for (const b of budgets) {
        const exit = yield* Effect.exit(b.take);
        if (exit._tag === "Failure") {
          for (const t of taken) yield* t.refund;
          return yield* Effect.failCause(exit.cause);
        }
        taken.push(b);
      }
      return taken;
    });
    const refundAll = (budgets: ReadonlyArray<Budget>) => Effect.forEach(budgets, (b) => b.refund, { discard: true });

    const openSession = Effect.fnUntraced(function* (userId: number, username: string, ip: string) {
      const now = yield* Clock.currentTimeMillis;
      const token = mintToken();
      const expiresAtMs = now + sessionTtlMs;
      yield* store.createSession({ tokenHash: hashToken(token), userId, username, createdAtMs: now, expiresAtMs });
      yield* throttles.remember("known-address", `${usernameKey(username)}|${addressKey(ip)}`, knownAddressTtlMs);
      return { username, token, expiresAtMs } satisfies AuthSession;
    });

    const register = Effect.fn("Accounts.register")(function* (rawUsername: string, password: string, ip: string) {
      const checked = checkUsername(rawUsername);
      if ("problem" in checked) return yield* new InvalidArgument({ message: checked.problem });
      const passwordProblem = checkPassword(password);
      if (passwordProblem !== undefined) return yield* new InvalidArgument({ message: passwordProblem });
      // Every attempt that passes the field checks counts, successful or not: accounts are what is limited.
      const taken = yield* takeAll([
        budget("registerPerIp", addressKey(ip), "register-ip"),
        budget("registerPerNetwork", networkOf(ip), "register-network"),
        budget("registerGlobal", "all", "register-global"),
      ]);
      const key = usernameKey(checked.username);
      // Registering reveals whether a name exists anyway; answering before hashing saves the CPU.
      if ((yield* store.findUser(key)) !== undefined) return yield* new UsernameTaken();
      // A refusal by the hash budget is not an attempt: give the registration budgets back.
      const passwordHash = yield* hasher.hash(password).pipe(Effect.tapError(() => refundAll(taken)));
      const user = yield* store.createUser({
        username: checked.username,
        usernameKey: key,
        passwordHash,
        createdAtMs: yield* Clock.currentTimeMillis,
      });
      yield* Effect.logInfo("account registered", { username: user.username, ip });
      return yield* openSession(user.id, user.username, ip);
    });

    const login = Effect.fn("Accounts.login")(function* (rawUsername: string, password: string, ip: string) {
      const checked = checkUsername(rawUsername);
      // A name or password that could never have been registered cannot match: no hash needed to say so.
      if ("problem" in checked || checkPassword(password) !== undefined) return yield* new Unauthenticated();
      const key = usernameKey(checked.username);
      const address = addressKey(ip);
      const known = yield* throttles.recall("known-address", `${key}|${address}`);
      const budgets = [
        budget("loginPerIp", address, "login-ip"),
        budget("loginPerAccountAddress", `${key}|${address}`, "login-account-ip"),
      ];
      const account = budget("loginPerAccount", key, "login-account");
      const taken = yield* takeAll(budgets);
      if (!known) {
        const byAccount = yield* Effect.exit(account.take);
        if (byAccount._tag === "Failure") {
          // Every attempt refused this way pushes the account's next allowed attempt from new addresses
          // further out (up to its maxDebt): a growing delay, not a lock, and never for known addresses.
          yield* account.record;
          yield* refundAll(taken);
          return yield* Effect.failCause(byAccount.cause);
        }
        taken.push(account);
      }
      const user = yield* store.findUser(key);
      let ok: boolean;
      if (user === undefined) {
        // Unknown users cost a real hash only within a cluster-wide budget; beyond it the reply takes as long
        // as a hash would, so the answer and its timing still do not tell whether the name exists.
        const hashes = rule("unknownUserHashes");
        const allowed = (yield* throttles.apply("unknownUserHashes", hashes, "all", "take")).allowed;
        if (allowed) yield* hasher.verifyDummy(password).pipe(Effect.tapError(() => refundAll(taken)));
        else yield* hasher.imitate;
        ok = false;
      } else {
        ok = yield* hasher.verify(password, user.passwordHash).pipe(Effect.tapError(() => refundAll(taken)));
      }
      if (!ok || user === undefined) {
        yield* Effect.logDebug("login failed", { ip });
        return yield* new Unauthenticated();
      }
      yield* refundAll(taken);
      return yield* openSession(user.id, user.username, ip);
    });

    const resume = Effect.fn("Accounts.resume")(function* (token: string) {
      if (!isWellFormedToken(token)) return yield* new Unauthenticated();
      const session = yield* store.findSession(hashToken(token));
      const now = yield* Clock.currentTimeMillis;
      if (session === undefined || session.expiresAtMs <= now) return yield* new Unauthenticated();
      return { username: session.username, token, expiresAtMs: session.expiresAtMs } satisfies AuthSession;
    });

    const logout = Effect.fn("Accounts.logout")(function* (token: string) {
      if (!isWellFormedToken(token)) return;
      yield* store.revokeSession(hashToken(token));
    });

    return Accounts.of({ register, login, resume, logout, authenticateToken: resume });
  });

  /** Default limits and a 30-day session. */
  static readonly layer: Layer.Layer<Accounts, never, Store | Throttles | PasswordHasher> = Layer.effect(Accounts, Accounts.make());

  static readonly layerWith = (options: AccountsOptions): Layer.Layer<Accounts, never, Store | Throttles | PasswordHasher> =>
    Layer.effect(Accounts, Accounts.make(options));
}
