// Browser tests of the <chat-app> web component: vitest in Node drives real Chromium through playwright-core
// against a real server (scripts/test.d/50-browser.sh builds the bundle first). Files run one at a time:
// each starts its own server and one Chromium per user.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["client/test/**/*.browser.test.ts"],
    reporters: ["default", "./scripts/count-reporter.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
