import { describe, expect, it } from "vitest";
import { evaluate, Registry } from "./metrics.ts";
import { fitLine, Samples } from "./samples.ts";

describe("Samples", () => {
  it("gives nearest-rank quantiles over all samples, growing past its first buffer", () => {
    const s = new Samples();
    for (let i = 5000; i >= 1; i--) s.add(i);
    expect(s.count).toBe(5000);
    expect(s.quantile(0.5)).toBe(2500);
    expect(s.quantile(0.99)).toBe(4950);
    expect(s.quantile(0.999)).toBe(4995);
    const sum = s.summary();
    expect([sum.min, sum.max, sum.avg]).toEqual([1, 5000, 2500.5]);
  });

  it("is NaN when empty", () => {
    expect(new Samples().quantile(0.5)).toBeNaN();
  });
});

describe("fitLine", () => {
  it("recovers the slope of points on a line", () => {
    const fit = fitLine([
      [0, 100],
      [1000, 20_100],
      [2000, 40_100],
      [3000, 60_100],
    ]);
    expect(fit.slope).toBeCloseTo(20, 9);
    expect(fit.intercept).toBeCloseTo(100, 6);
    expect(fit.r2).toBeCloseTo(1, 9);
  });
});

describe("thresholds", () => {
  const registry = () => {
    const r = new Registry();
    const t = r.trend("lat");
    for (let i = 1; i <= 100; i++) t.add(i);
    r.counter("gaps").add(0);
    r.counter("errors").add(3);
    r.gauge("ratio", 0.9995);
    const checks = r.rate("checks");
    checks.add(true);
    checks.add(false);
    return r;
  };

  it("evaluates k6-style expressions against trends, counters, gauges and rates", () => {
    const results = evaluate(
      registry(),
      {
        lat: ["p(95)<96", "p(99)<=98", "avg>50", "max==100"],
        gaps: ["count==0"],
        errors: ["count==0"],
        ratio: ["value>0.999"],
        checks: ["rate==1"],
      },
      10,
    );
    expect(results.map((r) => [r.metric, r.expression, r.ok, r.actual])).toEqual([
      ["lat", "p(95)<96", true, 95],
      ["lat", "p(99)<=98", false, 99],
      ["lat", "avg>50", true, 50.5],
      ["lat", "max==100", true, 100],
      ["gaps", "count==0", true, 0],
      ["errors", "count==0", false, 3],
      ["ratio", "value>0.999", true, 0.9995],
      ["checks", "rate==1", false, 0.5],
    ]);
  });

  it("fails a threshold on a metric that was never recorded, and rejects malformed expressions", () => {
    const [missing] = evaluate(new Registry(), { nothing: ["count==0"] }, 1);
    expect(missing!.ok).toBe(false);
    expect(() => evaluate(registry(), { lat: ["p95 < 3"] }, 1)).toThrow(/bad threshold/);
  });
});
