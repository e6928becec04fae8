// k6-style custom metrics and thresholds for the load scenarios: Trend (latency samples), Counter, Rate
// (fraction of passes) and Gauge, with thresholds written as k6 writes them ("p(99)<50", "count==0",
// "rate>0.999", "value>0.999") so a reader who knows k6 reads them at a glance.
import { Samples, type Summary } from "./samples.ts";

export type Metric =
  | { readonly type: "trend"; readonly unit: string; readonly samples: Samples }
  | { readonly type: "counter"; readonly unit: string; count: number }
  | { readonly type: "rate"; passes: number; fails: number }
  | { readonly type: "gauge"; readonly unit: string; value: number };

export class Registry {
  readonly metrics = new Map<string, Metric>();

  trend(name: string, unit = "ms"): Samples {
    const m = this.metrics.get(name);
    if (m?.type === "trend") return m.samples;
    const samples = new Samples();
    this.metrics.set(name, { type: "trend", unit, samples });
    return samples;
  }

  counter(name: string, unit = ""): { add(n?: number): void; readonly count: number } {
    let m = this.metrics.get(name);
    if (m?.type !== "counter") {
      m = { type: "counter", unit, count: 0 };
      this.metrics.set(name, m);
    }
    const metric = m;
    return {
      add: (n = 1) => {
        metric.count += n;
      },
      get count() {
        return metric.count;
      },
    };
  }

  rate(name: string): { add(pass: boolean): void; readonly value: number } {
    let m = this.metrics.get(name);
    if (m?.type !== "rate") {
      m = { type: "rate", passes: 0, fails: 0 };
      this.metrics.set(name, m);
    }
    const metric = m;
    return {
      add: (pass) => {
        if (pass) metric.passes++;
        else metric.fails++;
      },
      get value() {
        const total = metric.passes + metric.fails;
        return total === 0 ? Number.NaN : metric.passes / total;
      },
    };
  }

  gauge(name: string, value: number, unit = ""): void {
    this.metrics.set(name, { type: "gauge", unit, value });
  }
}

/** One metric's figures as thresholds and reports see them. */
export type MetricValues = Record<string, number>;

export const valuesOf = (metric: Metric, durationSec: number): MetricValues => {
  switch (metric.type) {
    case "trend": {
      const s: Summary = metric.samples.summary();
      return {
        count: s.count,
        min: s.min,
        avg: s.avg,
        med: s.p50,
        "p(90)": s.p90,
        "p(95)": s.p95,
        "p(99)": s.p99,
        "p(99.9)": s.p999,
        max: s.max,
      };
    }
    case "counter":
      return { count: metric.count, rate: durationSec > 0 ? metric.count / durationSec : Number.NaN };
    case "rate": {
      const total = metric.passes + metric.fails;
      return { rate: total === 0 ? Number.NaN : metric.passes / total, passes: metric.passes, fails: metric.fails };
    }
    case "gauge":
      return { value: metric.value };
  }
};

const THRESHOLD =
  /^\s*(avg|min|max|med|count|rate|value|passes|fails|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/;

/** The value a threshold aggregation names; p(N) for any N is computed from the trend's samples. */
const aggregate = (metric: Metric, agg: string, percentile: string | undefined, durationSec: number): number => {
  if (percentile !== undefined) {
    if (metric.type !== "trend") throw new Error(`p(${percentile}) needs a trend metric`);
    return metric.samples.quantile(Number(percentile) / 100);
  }
  const v = valuesOf(metric, durationSec)[agg];
  if (v === undefined) throw new Error(`${agg} does not apply to a ${metric.type} metric`);
  return v;
};

const compare = (a: number, op: string, b: number): boolean => {
  switch (op) {
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "==":
      return a === b;
    default:
      return a !== b;
  }
};

export interface ThresholdResult {
  readonly metric: string;
  readonly expression: string;
  readonly actual: number;
  readonly ok: boolean;
}

/** Evaluates k6-style thresholds. A missing metric or a NaN value fails (nothing measured is not a pass). */
export const evaluate = (registry: Registry, thresholds: Record<string, ReadonlyArray<string>>, durationSec: number): ThresholdResult[] => {
  const out: ThresholdResult[] = [];
  for (const [name, expressions] of Object.entries(thresholds)) {
    for (const expression of expressions) {
      const m = THRESHOLD.exec(expression);
      if (!m) throw new Error(`bad threshold "${expression}" on ${name}`);
      const metric = registry.metrics.get(name);
      const actual = metric ? aggregate(metric, m[1]!, m[2], durationSec) : Number.NaN;
      const ok = !Number.isNaN(actual) && compare(actual, m[3]!, Number(m[4]));
      out.push({ metric: name, expression, actual, ok });
    }
  }
  return out;
};
