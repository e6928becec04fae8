// The cluster tests (several server processes, PostgreSQL, Redis, HAProxy): run by scripts/test.d/65-cluster.sh,
// not by the unit step. Their files end in .cluster.ts so the root config's *.test.ts pattern leaves them out.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["server/test/cluster/**/*.cluster.ts"],
    reporters: ["default", "./scripts/count-reporter.ts"],
    // One cluster at a time: each test starts its own, and the machine has two cores.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
