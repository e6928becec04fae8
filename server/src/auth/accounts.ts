// Accounts: register, log in, resume and log out with session tokens. Throttles are consulted before any
// password hashing; an unknown user and a wrong password fail alike (same error, one hash each).
import { Buffer } from "node:buffer";
import { Clock, Context, Effect, Layer } from "effect";
import { InvalidArgument, RateLimited, type StorageUnavailable, StoreError, Unauthenticated, UsernameTaken } from "../errors.ts";
import { Store, usernameKey } from "../store/store.ts";
import { hashPassword, verifyDummy, verifyPassword } from "./password.ts";
import { KeyedThrottle, type ThrottleRule, type Verdict } from "./throttle.ts";
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
  /** Failed logins per account (default 5 per 15 minutes, then one more every 3 minutes). */
  readonly loginPerAccount?: ThrottleRule;
  /** Failed logins per IP (default 20 per minute). */
  readonly loginPerIp?: ThrottleRule;
  /** Registrations (attempts) per IP (default 20 per minute). */
  readonly registerPerIp?: ThrottleRule;
  /** Keys each throttle holds at most (default 100_000). */
  readonly maxThrottleKeys?: number;
}

export const ACCOUNTS_DEFAULTS = {
  sessionTtlMs: 30 * 24 * 60 * 60 * 1000,
  loginPerAccount: { limit: 5, windowMs: 15 * 60_000 },
  loginPerIp: { limit: 20, windowMs: 60_000 },
  registerPerIp: { limit: 20, windowMs: 60_000 },
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

export class Accounts extends Context.Service<Accounts, {
  register(username: string, password: string, ip: string): Effect.Effect<AuthSession, InvalidArgument | UsernameTaken | RateLimited | StoreError | StorageUnavailable>;
  /** Unknown user and wrong password both fail with Unauthenticated, after one hash each. */
  login(username: string, password: string, ip: string): Effect.Effect<AuthSession, Unauthenticated | RateLimited | StoreError | StorageUnavailable>;
  /** The session of a token (same token back), or Unauthenticated if unknown, revoked or expired. */
  resume(token: string): Effect.Effect<AuthSession, Unauthenticated | StoreError | StorageUnavailable>;
  /** Revokes the token's session; unknown tokens are ignored. */
  logout(token: string): Effect.Effect<void, StoreError | StorageUnavailable>;
  /** The same as resume; used on the token at the HTTP upgrade. */
  authenticateToken(token: string): Effect.Effect<AuthSession, Unauthenticated | StoreError | StorageUnavailable>;
}>()("protochat/auth/Accounts") {
  static readonly make = Effect.fnUntraced(function* (options: AccountsOptions = {}) {
    const store = yield* Store;
    const sessionTtlMs = options.sessionTtlMs ?? ACCOUNTS_DEFAULTS.sessionTtlMs;
    const keys = options.maxThrottleKeys === undefined ? {} : { maxKeys: options.maxThrottleKeys };
    const loginAccount = new KeyedThrottle(options.loginPerAccount ?? ACCOUNTS_DEFAULTS.loginPerAccount, keys);
    const loginIp = new KeyedThrottle(options.loginPerIp ?? ACCOUNTS_DEFAULTS.loginPerIp, keys);
    const registerIp = new KeyedThrottle(options.registerPerIp ?? ACCOUNTS_DEFAULTS.registerPerIp, keys);

    const refuse = (verdict: Verdict, scope: RateLimited["scope"]) =>
      verdict.allowed ? Effect.void : Effect.fail(new RateLimited({ retryAfterMs: verdict.retryAfterMs, scope }));

    const openSession = Effect.fnUntraced(function* (userId: number, username: string) {
      const now = yield* Clock.currentTimeMillis;
      const token = mintToken();
      const expiresAtMs = now + sessionTtlMs;
      yield* store.createSession({ tokenHash: hashToken(token), userId, username, createdAtMs: now, expiresAtMs });
      return { username, token, expiresAtMs } satisfies AuthSession;
    });

    const register = Effect.fn("Accounts.register")(function* (rawUsername: string, password: string, ip: string) {
      const checked = checkUsername(rawUsername);
      if ("problem" in checked) return yield* new InvalidArgument({ message: checked.problem });
      const passwordProblem = checkPassword(password);
      if (passwordProblem !== undefined) return yield* new InvalidArgument({ message: passwordProblem });
      yield* refuse(yield* registerIp.take(ip), "register-ip");
      const key = usernameKey(checked.username);
      // Registering reveals whether a name exists anyway; answering before hashing saves the CPU.
      if ((yield* store.findUser(key)) !== undefined) return yield* new UsernameTaken();
      const passwordHash = yield* hashPassword(password);
      const user = yield* store.createUser({
        username: checked.username,
        usernameKey: key,
        passwordHash,
        createdAtMs: yield* Clock.currentTimeMillis,
      });
      yield* Effect.logInfo("account registered", { username: user.username });
      return yield* openSession(user.id, user.username);
    });

    const login = Effect.fn("Accounts.login")(function* (rawUsername: string, password: string, ip: string) {
      const checked = checkUsername(rawUsername);
      // A name or password that could never have been registered cannot match: no hash needed to say so.
      if ("problem" in checked || checkPassword(password) !== undefined) return yield* new Unauthenticated();
      const key = usernameKey(checked.username);
      // Each attempt takes a token from both buckets before hashing (so parallel guesses are counted too);
      // a success gives them back, so only failures use up the allowance.
      const byIp = yield* loginIp.take(ip);
      yield* refuse(byIp, "login-ip");
      const byAccount = yield* loginAccount.take(key);
      if (!byAccount.allowed) yield* loginIp.refund(ip);
      yield* refuse(byAccount, "login-account");
      const user = yield* store.findUser(key);
      const ok = user === undefined ? yield* Effect.as(verifyDummy(password), false) : yield* verifyPassword(password, user.passwordHash);
      if (!ok || user === undefined) {
        yield* Effect.logDebug("login failed", { ip });
        return yield* new Unauthenticated();
      }
      yield* loginIp.refund(ip);
      yield* loginAccount.refund(key);
      return yield* openSession(user.id, user.username);
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

  /** Default limits and a 30-day session. Needs Store. */
  static readonly layer: Layer.Layer<Accounts, never, Store> = Layer.effect(Accounts, Accounts.make());

  static readonly layerWith = (options: AccountsOptions): Layer.Layer<Accounts, never, Store> =>
    Layer.effect(Accounts, Accounts.make(options));
}
