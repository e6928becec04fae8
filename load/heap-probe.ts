// Preloaded into the chat server by load/idle-heap.ts (node --expose-gc --import): on SIGUSR2 it collects garbage
// and writes process.memoryUsage() to $PROBE_OUT (with PROBE_SNAPSHOT set, also a heap snapshot beside it).
import { writeFileSync } from "node:fs";
import v8 from "node:v8";
process.on("SIGUSR2", () => {
  for (let i = 0; i < 3; i++) (globalThis as unknown as { gc(): void }).gc();
  const m = process.memoryUsage();
  let snap: string | undefined;
  if (process.env.PROBE_SNAPSHOT) snap = v8.writeHeapSnapshot(`${process.env.PROBE_OUT}.${Date.now()}.heapsnapshot`);
  writeFileSync(process.env.PROBE_OUT!, JSON.stringify({ ...m, snap }));
});
