// What every scenario gets from the runner and gives back.
import type { Registry } from "./metrics.ts";
import type { Timeline } from "./report.ts";

export interface Target {
  readonly wsUrl: string;
  readonly httpUrl: string;
  /** The server's pid when the runner started it (for CPU and RSS sampling from /proc); else undefined. */
  readonly serverPid: number | undefined;
}

export interface ScenarioOutcome {
  readonly registry: Registry;
  readonly timeline: Timeline | undefined;
  readonly durationSec: number;
  readonly options: Record<string, unknown>;
  readonly thresholds: Record<string, ReadonlyArray<string>>;
  readonly notes: Record<string, unknown>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Server flags the runner adds (throttles raised to fit the scenario). */
  readonly serverFlags: ReadonlyArray<string>;
  /** Open file descriptors the server and the generator need (the runner raises `ulimit -n` to it). */
  readonly fileLimit?: number;
  run(target: Target, args: Record<string, string>): Promise<ScenarioOutcome>;
}

/** Reads a numeric scenario option (`--name value` on the runner's command line), with a default. */
export const num = (args: Record<string, string>, name: string, fallback: number): number => {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got "${raw}"`);
  return n;
};
