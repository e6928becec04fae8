// Runs one conformance case: its steps in order against the server under test, each with placeholders
// filled from the case's variables. A step that does not hold fails the case with the step's place and a
// reason; the frames, errors and close codes that passing steps observed are the case's coverage.
import type { Case, Step } from "./case-schema.ts";
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

/** Runs one step once: the step kind's function over its decoded parameters. */
const runOnce = (ctx: CaseContext, step: Step, runSteps: (list: ReadonlyArray<Step>) => Promise<void>): Promise<void> => {
  switch (step.kind) {
    case "connect":
      return steps.connect(ctx, step.params);
    case "send":
      return steps.send(ctx, step.params);
    case "send_raw":
      return steps.sendRaw(ctx, step.params);
    case "expect":
      return steps.expect(ctx, step.params);
    case "expect_none":
      return steps.expectNone(ctx, step.params);
    case "expect_close":
      return steps.expectClose(ctx, step.params);
    case "expect_open":
      return steps.expectOpen(ctx, step.params);
    case "collect":
      return steps.collect(ctx, step.params);
    case "assert":
      return steps.assert(ctx, step.params);
    case "wait":
      return steps.wait(ctx, step.params);
    case "disconnect":
      return steps.disconnect(ctx, step.params);
    case "pause":
      return steps.pause(ctx, step.params);
    case "resume":
      return steps.resume(ctx, step.params);
    case "http":
      return steps.http(ctx, step.params);
    case "set":
      return steps.set(ctx, step.params);
    case "group":
      return runSteps(step.steps);
    case "shutdown":
      return steps.shutdown(ctx, step.params);
  }
};

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
        await runOnce(ctx, step, runSteps);
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
  return { name: kase.name, ok: error === undefined, ...(error !== undefined ? { error } : {}), durationMs: Date.now() - started, coverage: ctx.coverage };
};
