// Accounts over a real SQLite store and real argon2id: register/login/resume/logout, input rules, one error
// for unknown user and bad password, throttling before hashing (TestClock), and a rough timing comparison.
import { assert, describe, it } from "@effect/vitest";
import { Effect, Fiber, Layer } from "effect";
import { TestClock } from "effect/testing";
import { SqliteStore } from "../store/sqlite.ts";
import { Store } from "../store/store.ts";
import { Accounts, checkUsername } from "./accounts.ts";
import { PasswordHasher } from "./password.ts";
import { Throttles } from "./throttles.ts";
import { hashToken } from "./tokens.ts";

const accounts = (options: Parameters<typeof Accounts.layerWith>[0] = {}, hasher = PasswordHasher.layer()) =>
  Accounts.layerWith(options).pipe(Layer.provideMerge(Layer.mergeAll(SqliteStore.layerTemp, Throttles.layerMemory, hasher)));

const IP = "203.0.113.5";

describe("Accounts", () => {
  it.effect("register opens a session; login and resume give the same user; logout revokes the token", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      yield* TestClock.setTime(1_000_000);
      const reg = yield* acc.register("Zoë", "hunter2hunter2", IP);
      assert.strictEqual(reg.username, "Zoë");
      assert.strictEqual(reg.expiresAtMs, 1_000_000 + 60_000);
      assert.match(reg.token, /^[A-Za-z0-9_-]{43}$/);
      // Login is case-insensitive and answers with the name as registered.
      const login = yield* acc.login("ZOË", "hunter2hunter2", IP);
      assert.strictEqual(login.username, "Zoë");
      assert.notStrictEqual(login.token, reg.token);
      assert.deepStrictEqual(yield* acc.resume(reg.token), reg);
      assert.deepStrictEqual(yield* acc.authenticateToken(login.token), login);
      // Only the token's hash is stored.
      const store = yield* Store;
      assert.isDefined(yield* store.findSession(hashToken(reg.token)));
      assert.strictEqual(yield* store.findSession(reg.token), undefined);
      yield* acc.logout(reg.token);
      assert.strictEqual((yield* Effect.flip(acc.resume(reg.token)))._tag, "Unauthenticated");
      assert.strictEqual((yield* acc.resume(login.token)).username, "Zoë"); // the other session lives on
      // Expiry: the TTL is enforced on resume.
      yield* TestClock.adjust(60_000);
      assert.strictEqual((yield* Effect.flip(acc.resume(login.token)))._tag, "Unauthenticated");
      for (const junk of ["", "x", "a".repeat(200), "not a token at all!!"]) {
        assert.strictEqual((yield* Effect.flip(acc.authenticateToken(junk)))._tag, "Unauthenticated");
      }
    }).pipe(Effect.provide(accounts({ sessionTtlMs: 60_000 }))),
  );

  it.effect("a username is unique case-insensitively and after NFC normalization", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      yield* acc.register("Ren\u00e9", "password-1", IP);
      for (const clash of ["RENÉ", "Rene\u0301", "rené"]) {
        assert.strictEqual((yield* Effect.flip(acc.register(clash, "password-2", IP)))._tag, "UsernameTaken");
      }
      // The decomposed form logs in to the same account.
      assert.strictEqual((yield* acc.login("rene\u0301", "password-1", IP)).username, "René");
    }).pipe(Effect.provide(accounts())),
  );

  it.effect("register rejects names and passwords outside the contract with InvalidArgument", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      const bad: Array<[string, string]> = [
        ["", "password-1"],
        ["a".repeat(33), "password-1"],
        [" alice", "password-1"],
        ["alice ", "password-1"],
        ["al\u0000ice", "password-1"],
        ["al\u200bice", "password-1"], // zero-width space: Cf
        ["al\u2028ice", "password-1"],
        ["alice", "short"],
        ["alice", "p".repeat(257)],
        ["alice", "é".repeat(129)], // 258 bytes
      ];
      for (const [name, password] of bad) {
        const error = yield* Effect.flip(acc.register(name, password, IP));
        assert.strictEqual(error._tag, "InvalidArgument", JSON.stringify(name));
      }
      // Edges that are allowed: 32 code points (astral ones count once), inner spaces, 8 and 256 bytes.
      yield* acc.register("😀".repeat(32), "12345678", IP);
      yield* acc.register("mary ann", "p".repeat(256), IP);
      assert.deepStrictEqual(checkUsername("Cafe\u0301"), { username: "Café" });
    }).pipe(Effect.provide(accounts())),
  );

  it.effect("an unknown user and a wrong password get the same Unauthenticated error", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      yield* acc.register("bob", "right password", IP);
      const unknown = yield* Effect.flip(acc.login("nobody", "right password", IP));
      const wrong = yield* Effect.flip(acc.login("bob", "wrong password", IP));
      assert.deepStrictEqual(unknown, wrong);
      assert.strictEqual(unknown._tag, "Unauthenticated");
      assert.strictEqual((yield* Effect.flip(acc.login("bob", "short", IP)))._tag, "Unauthenticated");
    }).pipe(Effect.provide(accounts())),
  );

  it.effect("failures lock out only the address they come from; the account's own addresses still get in", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      yield* acc.register("carol", "carol's password", IP); // IP is now a known address of carol
      const attacker = "198.51.100.1";
      for (let i = 0; i < 5; i++)
        assert.strictEqual((yield* Effect.flip(acc.login("CAROL", `wrong guess ${i}`, attacker)))._tag, "Unauthenticated");
      const pair = yield* Effect.flip(acc.login("carol", "carol's password", attacker));
      assert.deepStrictEqual(
        [pair._tag, pair._tag === "RateLimited" && [pair.scope, pair.retryAfterMs]],
        ["RateLimited", ["login-account-ip", 180_000]],
      );
      // The real user, from her address, is not held back at all.
      assert.strictEqual((yield* acc.login("carol", "carol's password", IP)).username, "carol");
      // Nor is a mistyped password from her own address counted against the attacker's budget or vice versa.
      yield* Effect.flip(acc.login("carol", "a typo in it", IP));
      assert.strictEqual((yield* acc.login("carol", "carol's password", IP)).username, "carol");
      yield* TestClock.adjust(180_000);
      assert.strictEqual((yield* Effect.flip(acc.login("carol", "wrong guess 6", attacker)))._tag, "Unauthenticated");
    }).pipe(Effect.provide(accounts())),
  );

  it.effect("a distributed guess uses up the account's budget for new addresses, with a growing delay; known addresses are exempt", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      yield* acc.register("erin", "erin's password", IP);
      // 20 failures spread over 5 addresses (4 each, under the per-address budget of 5).
      for (let i = 0; i < 20; i++) yield* Effect.flip(acc.login("erin", `wrong guess ${i}`, `198.51.100.${i % 5}`));
      const waits: Array<number> = [];
      for (let i = 0; i < 4; i++) {
        const refused = yield* Effect.flip(acc.login("erin", "erin's password", `203.0.113.${100 + i}`));
        assert.deepStrictEqual([refused._tag, refused._tag === "RateLimited" && refused.scope], ["RateLimited", "login-account"]);
        if (refused._tag === "RateLimited") waits.push(refused.retryAfterMs);
      }
      // Each refused attempt pushes the next one further out (15 min / 20 = 45 s per step).
      assert.deepStrictEqual(waits, [45_000, 90_000, 135_000, 180_000]);
      assert.strictEqual((yield* acc.login("erin", "erin's password", IP)).username, "erin");
      // The delay is bounded: however many attempts, at most (1 + 20) steps.
      for (let i = 0; i < 100; i++) yield* Effect.flip(acc.login("erin", "x-guess-x", `203.0.113.${i % 50}`));
      const capped = yield* Effect.flip(acc.login("erin", "erin's password", "203.0.113.200"));
      assert.strictEqual(capped._tag === "RateLimited" && capped.retryAfterMs, 21 * 45_000);
      // Unknown accounts are throttled alike, so throttling reveals nothing.
      for (let i = 0; i < 5; i++) yield* Effect.flip(acc.login("ghost", "guess no. " + i, "198.51.100.77"));
      const ghost = yield* Effect.flip(acc.login("ghost", "guess no. 6", "198.51.100.77"));
      assert.strictEqual(ghost._tag === "RateLimited" && ghost.scope, "login-account-ip");
    }).pipe(Effect.provide(accounts({ loginPerIp: { limit: Infinity, windowMs: 1 } }))),
  );

  it.effect("unknown users cost a real hash only within their budget; beyond it the same error, no hash", () => {
    let dummies = 0;
    const counting = Layer.sync(PasswordHasher, () => {
      const real = PasswordHasher.make();
      return PasswordHasher.of({ ...real, verifyDummy: (p) => Effect.tap(real.verifyDummy(p), () => Effect.sync(() => dummies++)) });
    });
    return Effect.gen(function* () {
      const acc = yield* Accounts;
      const replies: Array<string> = [];
      for (let i = 0; i < 5; i++) {
        const fiber = yield* Effect.forkChild(Effect.flip(acc.login(`nobody${i}`, "some password", `198.51.100.${i}`)));
        yield* TestClock.adjust(1_000); // lets the imitated hash time pass
        replies.push((yield* Fiber.join(fiber))._tag);
      }
      assert.deepStrictEqual(replies, Array(5).fill("Unauthenticated"));
      assert.strictEqual(dummies, 2);
    }).pipe(Effect.provide(accounts({ unknownUserHashes: { limit: 2, windowMs: 60_000 } }, counting)));
  });

  it.effect("registrations are limited per network and overall, whatever the number of addresses", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      for (let i = 0; i < 3; i++) yield* acc.register(`net${i}`, "password-1", `198.51.100.${i}`);
      const network = yield* Effect.flip(acc.register("net3", "password-1", "198.51.100.3"));
      assert.strictEqual(network._tag === "RateLimited" && network.scope, "register-network");
      for (let i = 0; i < 2; i++) yield* acc.register(`far${i}`, "password-1", `203.0.${i}.1`);
      const global = yield* Effect.flip(acc.register("far2", "password-1", "192.0.2.1"));
      assert.strictEqual(global._tag === "RateLimited" && global.scope, "register-global");
      // A refused registration is given back to the budgets that had let it through.
      yield* TestClock.adjust(12_000);
      yield* acc.register("far2", "password-1", "192.0.2.1");
    }).pipe(
      Effect.provide(accounts({ registerPerNetwork: { limit: 3, windowMs: 60_000 }, registerGlobal: { limit: 5, windowMs: 60_000 } })),
    ),
  );

  it.effect("login failures per IP are throttled across accounts", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      for (let i = 0; i < 3; i++) yield* Effect.flip(acc.login(`user${i}`, "password-x", IP));
      const limited = yield* Effect.flip(acc.login("user9", "password-x", IP));
      assert.deepStrictEqual([limited._tag, limited._tag === "RateLimited" && limited.scope], ["RateLimited", "login-ip"]);
      assert.strictEqual((yield* Effect.flip(acc.login("user9", "password-x", "203.0.113.6")))._tag, "Unauthenticated");
    }).pipe(Effect.provide(accounts({ loginPerIp: { limit: 3, windowMs: 60_000 } }))),
  );

  it.effect("registrations per IP are throttled", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      yield* acc.register("one", "password-1", IP);
      yield* acc.register("two", "password-1", IP);
      const limited = yield* Effect.flip(acc.register("three", "password-1", IP));
      assert.deepStrictEqual([limited._tag, limited._tag === "RateLimited" && limited.scope], ["RateLimited", "register-ip"]);
      yield* acc.register("three", "password-1", "203.0.113.99");
      assert.strictEqual((yield* Effect.flip(acc.login("four", "password-1", IP)))._tag, "Unauthenticated");
    }).pipe(Effect.provide(accounts({ registerPerIp: { limit: 2, windowMs: 60_000 } }))),
  );

  it.live("unknown user and wrong password take similar time (printed, loosely checked)", () =>
    Effect.gen(function* () {
      const acc = yield* Accounts;
      yield* acc.register("dave", "dave's password", IP);
      const time = (username: string) =>
        Effect.gen(function* () {
          const start = performance.now();
          yield* Effect.flip(acc.login(username, "not the password", IP));
          return performance.now() - start;
        });
      const unknown: Array<number> = [];
      const wrong: Array<number> = [];
      for (let i = 0; i < 8; i++) {
        unknown.push(yield* time(`nobody${i}`));
        wrong.push(yield* time("dave"));
      }
      const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      console.log(`login failure median: unknown user ${median(unknown).toFixed(1)} ms, wrong password ${median(wrong).toFixed(1)} ms`);
      // Both paths run one argon2id hash; a missing hash would make one side several times faster.
      assert.isAbove(median(unknown), median(wrong) / 3);
      assert.isAbove(median(wrong), median(unknown) / 3);
    }).pipe(
      Effect.provide(
        accounts({
          loginPerIp: { limit: Infinity, windowMs: 1 },
          loginPerAccountAddress: { limit: Infinity, windowMs: 1 },
          loginPerAccount: { limit: Infinity, windowMs: 1 },
        }),
      ),
    ),
  );
});
