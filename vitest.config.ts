// Unit and integration tests (Node). Browser tests of the web component run separately in real Chromium.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "proto/test/**/*.test.ts",
      "server/**/*.test.ts",
      "client/src/**/*.test.ts",
      "conformance/src/**/*.test.ts",
      "load/src/**/*.test.ts",
      "scripts/**/*.test.ts",
    ],
    exclude: ["**/node_modules/**", "**/*.browser.test.ts"],
    reporters: ["default", "./scripts/count-reporter.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
