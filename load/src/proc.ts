// Reading another process's CPU time and resident memory from /proc (Linux), and small async helpers.
import { readFileSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat times (getconf CLK_TCK; 100 on Linux x86-64). */
const CLK_TCK = 100;

/** User and system CPU seconds the process has used so far. */
export const cpuTimes = (pid: number): { user: number; system: number } => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  return { user: Number(fields[11]) / CLK_TCK, system: Number(fields[12]) / CLK_TCK };
};

/** Write-family system calls (write, writev, …) the process has made so far (/proc/<pid>/io syscw). */
export const writeSyscalls = (pid: number): number => {
  const m = /syscw:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/io`, "utf8"));
  return m ? Number(m[1]) : Number.NaN;
};

/** User + system CPU seconds the process has used so far. */
export const cpuSeconds = (pid: number): number => {
  const t = cpuTimes(pid);
  return t.user + t.system;
};

/** Resident set size in bytes (VmRSS). */
export const rssBytes = (pid: number): number => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
};

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. Rejects on the first failure. */
export const pool = async <T, R>(items: ReadonlyArray<T>, limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> => {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
};

/** Polls `cond` every `everyMs` until it holds or `timeoutMs` passes; returns whether it held. */
export const waitUntil = async (cond: () => boolean, timeoutMs: number, everyMs = 20): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
  return true;
};
