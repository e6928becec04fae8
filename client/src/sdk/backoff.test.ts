// The reconnect policy: delays grow exponentially up to the cap, jitter stays inside its bounds, and each
// close code class maps to reconnect / slow reconnect / re-auth once / stop.
import { describe, expect, it } from "vitest";
import { backoffDelay, closePolicy } from "./backoff.ts";

const opts = { initialMs: 500, maxMs: 15_000 };

describe("backoffDelay", () => {
  it("grows exponentially up to the cap with the top of the jitter range", () => {
    const delays = Array.from({ length: 8 }, (_, i) => backoffDelay(i, opts, () => 1));
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000]);
  });

  it("is full jitter: uniformly between 0 and the cap", () => {
    expect(backoffDelay(3, opts, () => 0)).toBe(0);
    expect(backoffDelay(3, opts, () => 0.25)).toBe(1000);
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    for (let attempt = 0; attempt < 40; attempt++) {
      const d = backoffDelay(attempt, opts, random);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(15_000, 500 * 2 ** attempt));
    }
  });

  it("waits longer when the server is busy or limiting, never less than half the cap", () => {
    expect(backoffDelay(0, opts, () => 0)).toBe(0);
    expect(backoffDelay(0, opts, () => 0)).toBeLessThan(backoffDelay(0, opts, () => 0, true));
    expect(backoffDelay(0, opts, () => 0, true)).toBe(1000);
    expect(backoffDelay(0, opts, () => 1, true)).toBe(2000);
    expect(backoffDelay(10, opts, () => 0, true)).toBe(7500);
    expect(backoffDelay(10, opts, () => 1, true)).toBe(15_000);
  });

  it("survives a huge attempt count and an out-of-range random", () => {
    expect(backoffDelay(10_000, opts, () => 1)).toBe(15_000);
    expect(backoffDelay(2, opts, () => 5)).toBe(2000);
    expect(backoffDelay(2, opts, () => -1)).toBe(0);
  });
});

describe("closePolicy", () => {
  it.each([
    [1001, "reconnect"],
    [1006, "reconnect"],
    [1011, "reconnect"],
    [4000, "reconnect"],
    [4001, "reconnect"],
    [3001, "reconnect"],
    [4002, "reconnect-slow"],
    [4103, "reconnect-slow"],
    [4100, "reauth-once"],
    [4101, "reauth-once"],
    [4104, "stop-revoked"],
    [4102, "stop-bug"],
    [1003, "stop-bug"],
    [1009, "stop-bug"],
    [1000, "stop"],
    [4150, "stop"],
  ])("close %i → %s", (code, policy) => {
    expect(closePolicy(code)).toBe(policy);
  });
});
