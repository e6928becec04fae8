// Runs one conformance case: its steps in order against the server under test, each with placeholders
// filled from the case's variables. A step that does not hold fails the case with the step's place and a
// reason; the frames, errors and close codes that passing steps observed are the case's coverage.
import type { Case, LeafKind, LeafStep, Params, Step } from "./case-schema.ts";
import { asInt, CaseContext, type Coverage, type RunContext, sleep, StepFailure } from "./context.ts";
import * as steps from "./steps.ts";
import { TemplateError } from "./template.ts";

export { type Coverage, DEFAULT_TIMEOUT_MS, emptyCoverage, type RunContext, StepFailure } from "./context.ts";

export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly durationMs: number;
  readonly coverage: Coverage;
}

/** CONFORMANCE_TRACE=1 prints every step with its start time to stderr. */
const trace = process.env.CONFORMANCE_TRACE === "1";

/** Each step kind's function; a group runs its steps instead (runCase). */
const runners: { readonly [K in LeafKind]: (ctx: CaseContext, params: Params<K>) => Promise<void> } = {
  connect: steps.connect,
  send: steps.send,
  send_raw: steps.sendRaw,
  expect: steps.expect,
  expect_none: steps.expectNone,
  expect_close: steps.expectClose,
  expect_open: steps.expectOpen,
  collect: steps.collect,
  assert: steps.assert,
  wait: steps.wait,
  disconnect: steps.disconnect,
  pause: steps.pause,
  resume: steps.resume,
  http: steps.http,
  upload: steps.upload,
  download: steps.download,
  set: steps.set,
  shutdown: steps.shutdown,
};

const runLeaf = <K extends LeafKind>(ctx: CaseContext, step: LeafStep<K>): Promise<void> => runners[step.kind](ctx, step.params);

export const runCase = async (kase: Case, run: RunContext): Promise<CaseResult> => {
  const started = Date.now();
  const ctx = new CaseContext(run);
  const { vars } = ctx;

  let current = "";
  /** Runs steps in order; `repeat: N` runs a step (or a group) N times with ${i} = 1..N, `interval_ms` apart. */
  const runSteps = async (list: ReadonlyArray<Step>): Promise<void> => {
    for (const step of list) {
      current = step.where;
      if (trace) process.stderr.write(`  [${Date.now() - started} ms] ${step.where}\n`);
      const n = step.repeat === undefined ? 1 : asInt(ctx.fill(step.repeat), "repeat");
      const gap = step.intervalMs === undefined ? 0 : asInt(ctx.fill(step.intervalMs), "interval_ms");
      const outer = vars.get("i");
      for (let i = 1; i <= n; i++) {
        if (step.repeat !== undefined) {
          vars.set("i", i);
          current = `${step.where} #${i}`;
        }
        await (step.kind === "group" ? runSteps(step.steps) : runLeaf(ctx, step));
        if (gap > 0 && i < n) await sleep(gap);
      }
      // After a repeated step, ${i} is again the enclosing group's index (if any).
      if (step.repeat !== undefined) {
        if (outer === undefined) vars.delete("i");
        else vars.set("i", outer);
      }
    }
  };

  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const limit = kase.timeoutMs * run.timeoutScale;
  try {
    await Promise.race([
      (async () => {
        await runSteps(kase.steps);
        for (const c of ctx.clients.values()) ctx.checkViolations(c);
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StepFailure(`case did not finish within ${limit} ms (at ${current})`)), limit);
      }),
    ]);
  } catch (e) {
    if (e instanceof StepFailure || e instanceof TemplateError) error = `${current}: ${e.message}`;
    else error = `${current}: runner error: ${(e as Error).stack ?? String(e)}`;
  } finally {
    clearTimeout(timer);
    await Promise.all([...ctx.clients.values()].map((c) => c.close(!c.isOpen)));
  }
  return {
    name: kase.name,
    ok: error === undefined,
    ...(error !== undefined ? { error } : {}),
    durationMs: Date.now() - started,
    coverage: ctx.coverage,
  };
};
