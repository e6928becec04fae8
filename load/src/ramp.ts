// The capacity ramp's rules, kept pure so they are tested without servers: when a step passes, which of a
// step's tries counts, and how long a whole ramp can take at most (a ramp ends by itself within that bound).

/** A ramp step passes when p99 stays under this, every message of its window is delivered and no seq gap. */
export const RAMP_P99_LIMIT_MS = 50;
/** Each upward step offers this many times the last. */
export const RAMP_FACTOR = 1.5;
/** After the first failing step: this many steps at the geometric middle of the last pass and the failure. */
export const RAMP_REFINE_STEPS = 2;
/** Defaults of the generator's --ramp-* options (bench.ts prints its time bound from them). */
export const RAMP_DEFAULTS = { fromDeliveries: 10_000, steps: 8, seconds: 10, tries: 3, warmupSec: 3 } as const;
/** Waits of one stage beyond its warm-up and measured window, at most: the start offset (20 ms), the drain
 * of late messages (up to 5 s) and the pause after it (1 s). */
export const STAGE_OVERHEAD_MAX_SEC = 0.02 + 5 + 1;
/** The pause before a step's next try and before each refining step (a failed try can leave a backlog). */
export const RAMP_PAUSE_SEC = 3;

/** What the rules read of one try of a step. */
export interface RampTry {
  readonly p99Ms: number;
  readonly deliveredRatio: number;
  readonly seqGaps: number;
}

/** Why a try failed ("" when it passed). */
export const failureReason = (t: RampTry): string =>
  [
    !(t.p99Ms < RAMP_P99_LIMIT_MS) ? `p99 ${t.p99Ms.toFixed(1)} ms` : "",
    !(t.deliveredRatio >= 1) ? `delivered ${t.deliveredRatio.toFixed(5)}` : "",
    t.seqGaps > 0 ? `${t.seqGaps} seq gaps` : "",
  ]
    .filter(Boolean)
    .join(", ");

export const passes = (t: RampTry): boolean => failureReason(t) === "";

/** Whether a step needs another try: none of its tries so far passed and fewer than `tries` ran. A server
 * that holds a rate once (everything delivered, no gap, p99 under the limit) holds it: on a shared machine a
 * failure can be another process's stall, a pass cannot be. */
export const needsAnotherTry = (runs: ReadonlyArray<RampTry>, tries: number): boolean => runs.length < tries && !runs.some(passes);

/**
 * The try that counts for a step: the first that passed; when none did, the closest to passing (every message
 * delivered and no gap before a lower p99; then the higher delivered ratio, then the lower p99), so the failure
 * reported is the step's least bad.
 */
export const countedTry = <T extends RampTry>(runs: ReadonlyArray<T>): T => {
  if (runs.length === 0) throw new Error("a ramp step has at least one try");
  const passed = runs.find(passes);
  if (passed) return passed;
  const complete = (t: RampTry) => (t.deliveredRatio >= 1 && t.seqGaps === 0 ? 1 : 0);
  const p99 = (t: RampTry) => (Number.isNaN(t.p99Ms) ? Number.POSITIVE_INFINITY : t.p99Ms);
  return runs.reduce((best, t) =>
    complete(t) !== complete(best)
      ? complete(t) > complete(best)
        ? t
        : best
      : t.deliveredRatio !== best.deliveredRatio
        ? t.deliveredRatio > best.deliveredRatio
          ? t
          : best
        : p99(t) < p99(best)
          ? t
          : best,
  );
};

export interface RampShape {
  /** Upward steps at most. */
  readonly steps: number;
  /** Tries per step at most. */
  readonly tries: number;
  readonly warmupSec: number;
  readonly durationSec: number;
}

/** The longest a ramp's stages can take (every step, refining steps included, using every try, every drain
 * running to its limit): the bound printed before a ramp starts. Connection setup is not included. */
export const rampMaxSeconds = (r: RampShape): number => {
  const stage = r.warmupSec + r.durationSec + STAGE_OVERHEAD_MAX_SEC;
  const step = r.tries * stage + (r.tries - 1) * RAMP_PAUSE_SEC;
  return r.steps * step + RAMP_REFINE_STEPS * (RAMP_PAUSE_SEC + step);
};
