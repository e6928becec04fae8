// Every acknowledged append survives a SIGKILL of the writing process: the store is reopened after the kill
// and must hold each acked message at its acked seq, with gap-free seqs.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { assert, describe, it } from "@effect/vitest";
import { Effect } from "effect";
import { makeSqliteStore, SqliteStore } from "./sqlite.ts";

const writer = fileURLToPath(new URL("./crash-writer.ts", import.meta.url));

/** Runs the writer until it has printed `acks` acknowledgements, then SIGKILLs it; returns the acked lines. */
const runAndKill = (file: string, acks: number) =>
  Effect.callback<ReadonlyArray<string>, Error>((resume) => {
    const child = spawn(process.execPath, [writer, file], { stdio: ["ignore", "pipe", "pipe"] });
    let buffered = "";
    let stderr = "";
    const lines: Array<string> = [];
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      lines.push(...parts);
      if (lines.length >= acks && child.exitCode === null && !child.killed) child.kill("SIGKILL");
    });
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resume(Effect.succeed(lines));
      else resume(Effect.fail(new Error(`writer exited with ${code}: ${stderr}`)));
    });
  });

describe("SqliteStore durability", () => {
  it.live("keeps every acknowledged append across a SIGKILL", () =>
    Effect.gen(function* () {
      const file = yield* SqliteStore.tempFile;
      const acked = yield* runAndKill(file, 2_000);
      const room = acked.filter((l) => l.startsWith("room ")).map((l) => l.split(" "));
      const direct = acked.filter((l) => l.startsWith("direct ")).map((l) => l.split(" "));
      assert.isAbove(room.length, 100);
      assert.isAbove(direct.length, 100);
      yield* Effect.scoped(
        Effect.gen(function* () {
          const { store } = yield* makeSqliteStore({ file });
          const stored = yield* store.readMessages("CRASH2", { anchorSeq: 0n, direction: "forward", limit: 1_000_000 });
          const dms = yield* store.readDirect("bob", "ann", { anchorSeq: 0n, direction: "forward", limit: 1_000_000 });
          for (const [all, acks] of [
            [stored.messages, room],
            [dms.messages, direct],
          ] as const) {
            assert.deepStrictEqual(
              all.map((m) => Number(m.seq)),
              all.map((_, i) => i + 1),
              "gap-free",
            );
            const bySeq = new Map(all.map((m) => [String(m.seq), m.clientMessageId]));
            for (const [, seq, id] of acks) assert.strictEqual(bySeq.get(seq!), id, `acked ${id} at ${seq}`);
          }
          console.log(
            `after SIGKILL: ${room.length} acked room appends, ${stored.messages.length} stored; ${direct.length} acked DMs, ${dms.messages.length} stored`,
          );
        }),
      );
    }),
  );
});
