// Fault: the server process is SIGKILLed in the middle of an upload. After a restart on the same data dir no
// trace of it is served or kept (the partial temporary file is removed at start, it never got a record), and a
// file stored before the crash is served whole.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually } from "./helpers.ts";
import { killAll, spawnServer } from "./server-process.ts";
import { registered } from "./wire-client.ts";

const dataDir = mkdtempSync(join(tmpdir(), "protochat-files-crash-"));
afterAll(() => {
  killAll();
  rmSync(dataDir, { recursive: true, force: true });
});

const files = (...parts: string[]) => readdirSync(join(dataDir, "files", ...parts));

describe("SIGKILL during an upload", () => {
  it("leaves no partial file served or kept, and an earlier file intact", async () => {
    const first = await spawnServer(dataDir);
    const alice = await registered(first.wsUrl);
    const token = alice.auth.sessionToken;
    const kept = randomBytes(300_000);
    const res = await fetch(`${first.httpUrl}/v1/uploads?name=kept.bin`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
      body: kept,
    });
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    alice.client.close();

    // Half of a 4 MB upload, then the process dies.
    const upload = request(`${first.httpUrl}/v1/uploads?name=partial.bin`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Length": String(4 * 1024 * 1024) },
    });
    upload.on("error", () => undefined);
    upload.write(randomBytes(2 * 1024 * 1024));
    await eventually(
      () => files("tmp").some((f) => statSync(join(dataDir, "files", "tmp", f)).size > 0),
      5000,
      "the partial upload on disk",
    );
    first.child.kill("SIGKILL");
    await first.exited;
    expect(files("tmp").length).toBeGreaterThan(0);
    expect(files("uploads")).toEqual([`${id}.json`]);

    const second = await spawnServer(dataDir);
    try {
      expect(files("tmp")).toEqual([]);
      expect(files("uploads")).toEqual([`${id}.json`]);
      expect(files("blobs").flatMap((d) => files("blobs", d))).toHaveLength(1);
      const back = await fetch(`${second.httpUrl}/v1/files/${id}`, { headers: { Authorization: `Bearer ${token}` } });
      expect(back.status).toBe(200);
      expect(Buffer.from(await back.arrayBuffer()).equals(kept)).toBe(true);
    } finally {
      second.child.kill("SIGTERM");
      await second.exited;
    }
  });
});
