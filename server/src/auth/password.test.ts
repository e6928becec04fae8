// Real argon2id hashing: PHC format and round trip, wrong passwords, stored parameters honoured, hash time printed,
// and the per-node hash budget (bounded concurrency and queue, then RATE_LIMITED at once).
import { argon2Sync } from "node:crypto";
import { assert, describe, it } from "@effect/vitest";
import { Effect } from "effect";
import { ARGON2_PARAMS, hashPassword, parsePhc, PasswordHasher, verifyDummy, verifyPassword } from "./password.ts";

describe("password", () => {
  it.effect("hashes to an argon2id PHC string at OWASP parameters that verifies only the right password", () =>
    Effect.gen(function* () {
      const phc = yield* hashPassword("correct horse battery");
      assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
      assert.isTrue(yield* verifyPassword("correct horse battery", phc));
      assert.isFalse(yield* verifyPassword("correct horse batterY", phc));
      assert.isFalse(yield* verifyPassword("", phc));
      // A fresh salt each time: the same password never gives the same string.
      assert.notStrictEqual(yield* hashPassword("correct horse battery"), phc);
    }),
  );

  it.effect("verifies with the parameters recorded in the stored string, not the current defaults", () =>
    Effect.gen(function* () {
      const salt = Buffer.from("0123456789abcdef");
      const tag = argon2Sync("argon2id", { message: "päss wörd", nonce: salt, memory: 4096, passes: 3, parallelism: 1, tagLength: 24 });
      const b64 = (b: Buffer) => b.toString("base64").replace(/=+$/, "");
      const phc = `$argon2id$v=19$m=4096,t=3,p=1$${b64(salt)}$${b64(tag)}`;
      assert.deepStrictEqual([parsePhc(phc)?.memory, parsePhc(phc)?.passes, parsePhc(phc)?.tag.length], [4096, 3, 24]);
      assert.isTrue(yield* verifyPassword("päss wörd", phc));
      assert.isFalse(yield* verifyPassword("pass word", phc));
    }),
  );

  it.effect("a malformed or absurd stored string never verifies", () =>
    Effect.gen(function* () {
      for (const bad of [
        "",
        "plain",
        "$argon2i$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
        "$argon2id$v=19$m=99999999,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAA",
      ]) {
        assert.isFalse(yield* verifyPassword("whatever1", bad), bad);
      }
    }),
  );

  it.live("prints the hash time (OWASP parameters on this machine)", () =>
    Effect.gen(function* () {
      const phc = yield* hashPassword("warm up the pool");
      const times: Array<number> = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        yield* verifyPassword("warm up the pool", phc);
        times.push(performance.now() - start);
      }
      const dummy: Array<number> = [];
      for (let i = 0; i < 5; i++) {
        const start = performance.now();
        yield* verifyDummy("some password");
        dummy.push(performance.now() - start);
      }
      const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      console.log(
        `argon2id m=${ARGON2_PARAMS.memory} t=${ARGON2_PARAMS.passes} p=${ARGON2_PARAMS.parallelism}: verify median ${median(times).toFixed(1)} ms, dummy median ${median(dummy).toFixed(1)} ms`,
      );
      assert.isAbove(median(times), 1);
    }),
  );

  it.live("a burst beyond the hash budget is refused at once with RATE_LIMITED instead of queueing", () =>
    Effect.gen(function* () {
      const hasher = PasswordHasher.make({ concurrency: 1, queue: 2 });
      let peak = 0;
      const started = performance.now();
      const results = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) =>
          Effect.gen(function* () {
            const exit = yield* Effect.exit(hasher.hash(`password number ${i}`));
            peak = Math.max(peak, yield* hasher.pending);
            return { exit, atMs: performance.now() - started };
          }),
        { concurrency: "unbounded" },
      );
      const refused = results.filter((r) => r.exit._tag === "Failure");
      const hashed = results.filter((r) => r.exit._tag === "Success");
      // One running and two waiting are admitted; the other nine are answered before the first hash ends.
      assert.strictEqual(hashed.length, 3);
      assert.strictEqual(refused.length, 9);
      for (const r of refused) {
        assert.isTrue(r.exit._tag === "Failure" && JSON.stringify(r.exit.cause).includes("hash"));
        assert.isBelow(r.atMs, Math.min(...hashed.map((h) => h.atMs)));
      }
      assert.isAtMost(peak, 3);
      // Once the budget has drained, hashing is admitted again.
      assert.match(yield* hasher.hash("after the burst"), /^\$argon2id\$/);
      console.log(
        `hash budget: 3 admitted (last done at ${Math.max(...hashed.map((h) => h.atMs)).toFixed(0)} ms), 9 refused within ${Math.max(...refused.map((r) => r.atMs)).toFixed(1)} ms`,
      );
    }),
  );
});
