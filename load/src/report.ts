// The end-of-run summary: a terminal table (like k6's), a JSON file and a self-contained HTML report
// (no scripts, no external assets: tables plus inline SVG charts) under artifacts/.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Registry, type ThresholdResult, valuesOf } from "./metrics.ts";
import { Samples } from "./samples.ts";

/** Per-second series for the charts: counts and latency samples bucketed by second since the start. */
export class Timeline {
  readonly start: number;
  private readonly counts = new Map<string, number[]>();
  private readonly latency: Samples[] = [];

  constructor(start: number) {
    this.start = start;
  }

  private second(at: number): number {
    return Math.max(0, Math.floor((at - this.start) / 1000));
  }

  count(series: string, at: number, n = 1): void {
    let arr = this.counts.get(series);
    if (!arr) this.counts.set(series, (arr = []));
    const s = this.second(at);
    arr[s] = (arr[s] ?? 0) + n;
  }

  latencyAt(at: number, ms: number): void {
    const s = this.second(at);
    (this.latency[s] ??= new Samples()).add(ms);
  }

  /** { series name: per-second values } with latency p50/p99 per second. */
  series(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const [name, arr] of this.counts) out[name] = Array.from(arr, (v) => v ?? 0);
    out["latency p50 (ms)"] = Array.from(this.latency, (s) => s?.quantile(0.5) ?? 0);
    out["latency p99 (ms)"] = Array.from(this.latency, (s) => s?.quantile(0.99) ?? 0);
    return out;
  }
}

export interface RunResult {
  readonly scenario: string;
  readonly startedAt: string;
  readonly durationSec: number;
  readonly options: Record<string, unknown>;
  readonly metrics: Record<string, Record<string, number>>;
  readonly thresholds: ThresholdResult[];
  readonly notes: Record<string, unknown>;
  readonly series: Record<string, number[]>;
  readonly passed: boolean;
}

export const collect = (
  scenario: string,
  registry: Registry,
  thresholds: ThresholdResult[],
  durationSec: number,
  options: Record<string, unknown>,
  notes: Record<string, unknown>,
  timeline: Timeline | undefined,
): RunResult => {
  const metrics: Record<string, Record<string, number>> = {};
  for (const [name, m] of [...registry.metrics].sort(([a], [b]) => a.localeCompare(b))) metrics[name] = valuesOf(m, durationSec);
  return {
    scenario,
    startedAt: new Date().toISOString(),
    durationSec,
    options,
    metrics,
    thresholds,
    notes,
    series: timeline?.series() ?? {},
    passed: thresholds.every((t) => t.ok),
  };
};

const fmt = (v: number | undefined): string => {
  if (v === undefined || Number.isNaN(v)) return "-";
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(1) : a >= 1 ? v.toFixed(3) : v.toPrecision(4);
};

export const textSummary = (r: RunResult): string => {
  const lines: string[] = [`scenario ${r.scenario}: ${r.durationSec.toFixed(1)} s`];
  for (const [name, values] of Object.entries(r.metrics)) {
    const parts = Object.entries(values).map(([k, v]) => `${k}=${fmt(v)}`);
    lines.push(`  ${name.padEnd(34, ".")} ${parts.join(" ")}`);
  }
  for (const [k, v] of Object.entries(r.notes)) lines.push(`  ${k}: ${typeof v === "number" ? fmt(v) : JSON.stringify(v)}`);
  lines.push("thresholds:");
  for (const t of r.thresholds) lines.push(`  ${t.ok ? "✓" : "✗"} ${t.metric} ${t.expression} (actual ${fmt(t.actual)})`);
  lines.push(r.passed ? "all thresholds passed" : "THRESHOLDS FAILED");
  return lines.join("\n");
};

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A line chart of one series as inline SVG. */
const chart = (title: string, values: number[]): string => {
  const w = 640,
    h = 160,
    pad = 36;
  const max = Math.max(1e-9, ...values);
  const step = values.length > 1 ? (w - pad - 8) / (values.length - 1) : 0;
  const pts = values.map((v, i) => `${(pad + i * step).toFixed(1)},${(h - 20 - (v / max) * (h - 40)).toFixed(1)}`).join(" ");
  return `<figure><figcaption>${esc(title)}</figcaption><svg width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">
<line x1="${pad}" y1="${h - 20}" x2="${w - 8}" y2="${h - 20}" stroke="#888"/><line x1="${pad}" y1="20" x2="${pad}" y2="${h - 20}" stroke="#888"/>
<text x="2" y="24" font-size="10">${esc(fmt(max))}</text><text x="2" y="${h - 20}" font-size="10">0</text>
<text x="${w - 60}" y="${h - 4}" font-size="10">${values.length} s</text>
<polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="${pts}"/></svg></figure>`;
};

export const htmlReport = (r: RunResult): string => {
  const metricRows = Object.entries(r.metrics)
    .map(
      ([name, values]) =>
        `<tr><th>${esc(name)}</th><td>${Object.entries(values)
          .map(([k, v]) => `${esc(k)}=${esc(fmt(v))}`)
          .join(" &nbsp; ")}</td></tr>`,
    )
    .join("\n");
  const thresholdRows = r.thresholds
    .map(
      (t) =>
        `<tr class="${t.ok ? "ok" : "fail"}"><td>${t.ok ? "pass" : "FAIL"}</td><td>${esc(t.metric)}</td><td><code>${esc(t.expression)}</code></td><td>${esc(fmt(t.actual))}</td></tr>`,
    )
    .join("\n");
  const noteValue = (v: unknown): string => {
    // An array of flat objects (e.g. per-stage figures) reads best as a table.
    if (Array.isArray(v) && v.length > 0 && v.every((row) => row !== null && typeof row === "object" && !Array.isArray(row))) {
      const rows = v as Array<Record<string, unknown>>;
      const keys = [...new Set(rows.flatMap((row) => Object.keys(row)))];
      const cell = (x: unknown) => esc(typeof x === "number" ? fmt(x) : JSON.stringify(x));
      return `<table><tr>${keys.map((k) => `<th>${esc(k)}</th>`).join("")}</tr>${rows.map((row) => `<tr>${keys.map((k) => `<td>${cell(row[k])}</td>`).join("")}</tr>`).join("")}</table>`;
    }
    return `<code>${esc(typeof v === "number" ? fmt(v) : JSON.stringify(v))}</code>`;
  };
  const notes = Object.entries(r.notes)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${noteValue(v)}</td></tr>`)
    .join("\n");
  const charts = Object.entries(r.series)
    .filter(([, v]) => v.length > 0)
    .map(([k, v]) => chart(k, v))
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>load: ${esc(r.scenario)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;margin:1em 0;display:block;overflow-x:auto}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.ok td:first-child{color:#15803d}
.fail td:first-child{color:#b91c1c;font-weight:bold}figure{margin:1em 0}figcaption{font-weight:bold}</style></head>
<body><h1>Load scenario <code>${esc(r.scenario)}</code>: ${r.passed ? "passed" : "FAILED"}</h1>
<p>Started ${esc(r.startedAt)}, ${esc(fmt(r.durationSec))} s. Options: <code>${esc(JSON.stringify(r.options))}</code></p>
<h2>Thresholds</h2><table><tr><th></th><th>metric</th><th>threshold</th><th>actual</th></tr>${thresholdRows}</table>
<h2>Metrics</h2><table>${metricRows}</table>
${notes ? `<h2>Notes</h2><table>${notes}</table>` : ""}
<h2>Per second</h2>${charts}
</body></html>
`;
};

export const writeReports = (r: RunResult, basePath: string): void => {
  mkdirSync(dirname(basePath), { recursive: true });
  writeFileSync(`${basePath}.json`, `${JSON.stringify(r, null, 2)}\n`);
  writeFileSync(`${basePath}.html`, htmlReport(r));
};
