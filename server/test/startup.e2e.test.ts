// Start-up failures of the storage, as an operator sees them: the process exits before listening, with one line
// on stderr that names the file and the cause (a full disk is covered in disk-full.e2e.test.ts: exit 75).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killAll, spawnFailingServer } from "./server-process.ts";

afterAll(killAll);

describe("start-up", () => {
  it("a data dir whose chat.db is not a database: exit 1 with one line, never listening", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "protochat-notadb-"));
    try {
      writeFileSync(join(dataDir, "chat.db"), "these are not the pages you are looking for\n".repeat(200));
      const result = await spawnFailingServer(dataDir);
      expect(result.listening).toBe(false);
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/^error: storage failed to open, not starting: .*chat\.db: file is not a database \(code 26\)/);
      console.log(`start on a foreign chat.db: exit ${result.code}: ${result.stderr.trim()}`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
