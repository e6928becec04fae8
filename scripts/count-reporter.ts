// A vitest reporter that ends the run with the plain `N passed, N failed` line CI reads, and appends the
// counts to $TEST_COUNTS_FILE so scripts/test-all.sh can add up every suite of the run.
import { appendFileSync } from "node:fs";
import type { Reporter, TestModule } from "vitest/node";

export default class CountReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      // A module that failed to load has no tests but must still count as a failure.
      if (module.state() === "failed" && [...module.children.allTests()].length === 0) failed++;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    const line = `${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ""}`;
    console.log(`vitest: ${line}`);
    const file = process.env.TEST_COUNTS_FILE;
    if (file) appendFileSync(file, `vitest ${passed} ${failed}\n`);
  }
}
