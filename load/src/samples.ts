// Exact latency statistics: every sample is kept in a growable Float64Array (8 bytes each, so a million
// deliveries cost 8 MB) and quantiles are read from the sorted copy. No bucketing error at the tails,
// which is where the benchmark's p99.9 lives.

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly avg: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

export class Samples {
  private data = new Float64Array(1024);
  private n = 0;
  private sorted: Float64Array | undefined;

  add(value: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = value;
    this.sorted = undefined;
  }

  addAll(other: Samples): void {
    for (let i = 0; i < other.n; i++) this.add(other.data[i]!);
  }

  get count(): number {
    return this.n;
  }

  private sortedView(): Float64Array {
    this.sorted ??= this.data.slice(0, this.n).sort();
    return this.sorted;
  }

  /** The q-quantile (0 ≤ q ≤ 1) by the nearest-rank method; NaN when empty. */
  quantile(q: number): number {
    if (this.n === 0) return Number.NaN;
    const s = this.sortedView();
    const rank = Math.min(this.n, Math.max(1, Math.ceil(q * this.n)));
    return s[rank - 1]!;
  }

  summary(): Summary {
    if (this.n === 0) {
      const nan = Number.NaN;
      return { count: 0, min: nan, avg: nan, p50: nan, p90: nan, p95: nan, p99: nan, p999: nan, max: nan };
    }
    const s = this.sortedView();
    let sum = 0;
    for (let i = 0; i < this.n; i++) sum += s[i]!;
    return {
      count: this.n,
      min: s[0]!,
      avg: sum / this.n,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: s[this.n - 1]!,
    };
  }
}

/** Least-squares line through (x, y) points: y ≈ intercept + slope·x, with r² for how well it fits. */
export const fitLine = (points: ReadonlyArray<readonly [number, number]>): { slope: number; intercept: number; r2: number } => {
  const n = points.length;
  if (n < 2) return { slope: Number.NaN, intercept: Number.NaN, r2: Number.NaN };
  let sx = 0,
    sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n,
    my = sy / n;
  let sxx = 0,
    sxy = 0,
    syy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
    syy += (y - my) ** 2;
  }
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
  return { slope, intercept, r2 };
};
