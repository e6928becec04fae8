// The bench's pure rules: the capacity ramp's step verdict and time bound, and the per-node split of a cluster run.
import { describe, expect, it } from "vitest";
import { expectedByNode, memberNodeOf, membersByNode, microsPer, nodeOf, rssPerConnection, shareOf } from "./per-node.ts";
import { countedTry, failureReason, needsAnotherTry, passes, rampMaxSeconds, STAGE_OVERHEAD_MAX_SEC } from "./ramp.ts";

const run = (p99Ms: number, deliveredRatio = 1, seqGaps = 0) => ({ p99Ms, deliveredRatio, seqGaps });

describe("ramp step verdict", () => {
  it("passes only with p99 under 50 ms, every message delivered and no seq gap", () => {
    expect(passes(run(49.9))).toBe(true);
    expect(failureReason(run(50))).toBe("p99 50.0 ms");
    expect(failureReason(run(10, 0.99999))).toBe("delivered 0.99999");
    expect(failureReason(run(10, 1, 2))).toBe("2 seq gaps");
    // No latency sample at all (nothing arrived) is a failure, not a pass.
    expect(passes(run(Number.NaN))).toBe(false);
  });

  it("tries a failing step again up to the limit, and stops at the first pass", () => {
    expect(needsAnotherTry([run(80)], 3)).toBe(true);
    expect(needsAnotherTry([run(80), run(90)], 3)).toBe(true);
    expect(needsAnotherTry([run(80), run(90), run(70)], 3)).toBe(false);
    expect(needsAnotherTry([run(80), run(20)], 3)).toBe(false);
    expect(needsAnotherTry([run(20)], 3)).toBe(false);
    expect(needsAnotherTry([run(80)], 1)).toBe(false);
  });

  it("counts a step that held once as held: one stall of a shared machine does not set the capacity", () => {
    const tries = [run(120), run(30), run(60)];
    expect(countedTry(tries)).toBe(tries[1]);
  });

  it("reports a failing step by its least bad try: complete delivery first, then the lower p99", () => {
    const lost = run(5, 0.9);
    const slow = run(200);
    const slower = run(400);
    expect(countedTry([lost, slower, slow])).toBe(slow);
    expect(countedTry([run(10, 0.5), run(Number.NaN, 0.8)]).deliveredRatio).toBe(0.8);
    expect(() => countedTry([])).toThrow();
  });

  it("bounds a ramp's time by every step using every try and every drain", () => {
    const stage = 3 + 10 + STAGE_OVERHEAD_MAX_SEC;
    const step = 3 * stage + 2 * 3;
    expect(rampMaxSeconds({ steps: 8, tries: 3, warmupSec: 3, durationSec: 10 })).toBeCloseTo(8 * step + 2 * (3 + step));
    // One try per step: no pause between tries.
    expect(rampMaxSeconds({ steps: 1, tries: 1, warmupSec: 3, durationSec: 5 })).toBeCloseTo(3 * (3 + 5 + STAGE_OVERHEAD_MAX_SEC) + 6);
  });
});

describe("per-node split of a cluster run", () => {
  it("spreads connections round-robin and counts each node's share", () => {
    expect([0, 1, 2, 3, 4].map((i) => nodeOf(i, 2))).toEqual([0, 1, 0, 1, 0]);
    expect([shareOf(2001, 2, 0), shareOf(2001, 2, 1)]).toEqual([1001, 1000]);
    expect([shareOf(5, 3, 0), shareOf(5, 3, 1), shareOf(5, 3, 2)]).toEqual([2, 2, 1]);
  });

  it("gives each node as many senders as the other: a room's first member starts one node further each room", () => {
    // 4 rooms, the first 5 members of each send: 3 + 2, then 2 + 3, ... → 10 senders on each node.
    const senders = [0, 0];
    for (let room = 0; room < 4; room++) for (let m = 0; m < 5; m++) senders[memberNodeOf(room, m, 2)]!++;
    expect(senders).toEqual([10, 10]);
    expect(memberNodeOf(3, 7, 1)).toBe(0);
  });

  it("knows each room's members on each node, also when a room's size is odd", () => {
    expect(membersByNode(4, 100, 2)).toEqual([
      [50, 50],
      [50, 50],
      [50, 50],
      [50, 50],
    ]);
    // Room 0's members on nodes 0,1,0; room 1's on 1,0,1.
    expect(membersByNode(2, 3, 2)).toEqual([
      [2, 1],
      [1, 2],
    ]);
  });

  it("expects of each node the window's messages of each room times that room's members on it", () => {
    const on = membersByNode(2, 3, 2);
    // 10 messages to room 0, 7 to room 1.
    expect(expectedByNode([10, 7], on)).toEqual([10 * 2 + 7 * 1, 10 * 1 + 7 * 2]);
    const total = expectedByNode([10, 7], on).reduce((a, b) => a + b, 0);
    expect(total).toBe((10 + 7) * 3);
  });

  it("divides a node's own CPU and memory by its own deliveries and connections", () => {
    // 0.5 CPU-s over 100,000 deliveries made by that node: 5 µs each.
    expect(microsPer(0.5, 100_000)).toBeCloseTo(5);
    expect(microsPer(0.5, 0)).toBeNaN();
    expect(rssPerConnection(100 * 2 ** 20, 120 * 2 ** 20, 1000)).toBeCloseTo((20 * 2 ** 20) / 1000);
    expect(rssPerConnection(1, 2, 0)).toBeNaN();
  });
});
