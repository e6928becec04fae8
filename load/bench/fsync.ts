// How long this disk takes to make a small write durable: the floor under the chat server's latency, which
// acks and delivers a message only after its commit's fsync. Usage: node load/bench/fsync.ts [dir] [count]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export interface FsyncFigures {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

const quantile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;

/** Appends `count` 4 KiB blocks to a fresh file under `dir`, each followed by fdatasync, and times each pair. */
export const measureFsync = (dir: string, count = 500): FsyncFigures => {
  const scratch = mkdtempSync(join(dir, ".fsync-probe-"));
  const fd = openSync(join(scratch, "probe"), "w");
  const block = Buffer.alloc(4096, 1);
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      times.push(performance.now() - start);
    }
  } finally {
    closeSync(fd);
    rmSync(scratch, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return { count, p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99), maxMs: times.at(-1) ?? Number.NaN };
};

if (import.meta.main) {
  const figures = measureFsync(process.argv[2] ?? process.cwd(), Number(process.argv[3] ?? 500));
  const ms = (n: number) => n.toFixed(2);
  process.stdout.write(
    `fsync of a 4 KiB append (${figures.count}): p50 ${ms(figures.p50Ms)} ms, p99 ${ms(figures.p99Ms)} ms, max ${ms(figures.maxMs)} ms\n`,
  );
}
