// The outbox's bounds without sockets: a sink whose buffered bytes the test sets stands in for a socket that
// is or is not backed up. Every frame kind counts against the byte budget, including what the socket holds.
import { describe, expect, it } from "vitest";
import type { Sink, Wire } from "../transport/wire.ts";
import { HIGH_WATER_BYTES, lowWaterFor, Outbox, type OutboxLimits } from "./outbox.ts";

const wire = (n: number) => Buffer.alloc(n, 1) as Wire;

/** A sink that records writes and reports `buffered` bytes as not yet sent (the test plays the kernel). */
const fakeSink = () => {
  const sink = {
    written: [] as number[],
    buffered: 0,
    drainWaiters: [] as Array<() => void>,
    write(w: Wire) {
      this.written.push(w.length);
      this.buffered += w.length;
    },
    get bufferedAmount() {
      return this.buffered;
    },
    whenDrained(ready: () => void) {
      this.drainWaiters.push(ready);
      return () => {};
    },
  };
  return sink satisfies Sink;
};

const MiB = 1024 * 1024;
const limits: OutboxLimits = { maxBytes: 8 * MiB, maxFrames: 1024, lowWaterBytes: lowWaterFor(8 * MiB) };

const setup = (l: OutboxLimits = limits) => {
  const sink = fakeSink();
  let overflows = 0;
  const outbox = new Outbox(sink, l, () => overflows++);
  return { sink, outbox, overflows: () => overflows };
};

describe("byte budget", () => {
  it("writes straight to the socket while it is not backed up, and counts the socket's bytes", () => {
    const { sink, outbox } = setup();
    outbox.push(wire(100));
    outbox.push(wire(200));
    expect(sink.written).toEqual([100, 200]);
    expect(outbox.pending).toBe(0);
    expect(outbox.bytes).toBe(300);
  });

  it("accepts one reply of 4.4 MB into an idle outbox (the largest the server makes at the default limits)", () => {
    const { sink, outbox, overflows } = setup();
    outbox.push(wire(4_400_000));
    expect(sink.written).toEqual([4_400_000]);
    expect(overflows()).toBe(0);
    expect(outbox.congested).toBe(true);
  });

  it("a frame that would take the socket's bytes plus the queue over the budget is a slow consumer: one overflow, backlog dropped", () => {
    const { sink, outbox, overflows } = setup();
    outbox.push(wire(5 * MiB)); // in the socket, unsent
    outbox.push(wire(2 * MiB)); // queued behind it
    outbox.push(wire(100_000)); // queued
    expect(outbox.pending).toBe(2);
    expect(outbox.bytes).toBe(7 * MiB + 100_000);
    outbox.push(wire(MiB)); // 8 MiB + 100 kB: over
    expect(overflows()).toBe(1);
    expect(outbox.isClosed).toBe(true);
    expect(outbox.pending).toBe(0);
    expect(outbox.bytes).toBe(5 * MiB); // only what the socket already had
    outbox.push(wire(10));
    expect(overflows()).toBe(1);
    expect(sink.written).toEqual([5 * MiB]);
    expect(outbox.peakBytes).toBeLessThanOrEqual(limits.maxBytes);
  });

  it("counts a single frame bigger than the whole budget as overflow even into an idle outbox", () => {
    const { sink, outbox, overflows } = setup({ maxBytes: 2 * MiB, maxFrames: 1024, lowWaterBytes: lowWaterFor(2 * MiB) });
    outbox.push(wire(2 * MiB + 1));
    expect(overflows()).toBe(1);
    expect(sink.written).toEqual([]);
  });

  it("keeps the frame-count bound for many small frames", () => {
    const { outbox, overflows } = setup({ maxBytes: 8 * MiB, maxFrames: 8, lowWaterBytes: MiB });
    outbox.push(wire(HIGH_WATER_BYTES)); // socket backed up
    for (let i = 0; i < 8; i++) outbox.push(wire(50));
    expect(overflows()).toBe(0);
    outbox.push(wire(50));
    expect(overflows()).toBe(1);
  });

  it("sheds droppable frames (typing) once the outbox is at the low watermark, and keeps the others", () => {
    const { outbox, overflows } = setup();
    outbox.push(wire(HIGH_WATER_BYTES)); // backed up, below the watermark
    outbox.push(wire(30), true);
    expect(outbox.pending).toBe(1);
    outbox.push(wire(limits.lowWaterBytes));
    outbox.push(wire(30), true);
    expect(outbox.dropped).toBe(1);
    outbox.push(wire(30));
    expect(outbox.pending).toBe(3);
    expect(overflows()).toBe(0);
  });

  it("is congested from the low watermark on, counting queued frames and the socket's buffer", () => {
    const { sink, outbox } = setup();
    expect(outbox.congested).toBe(false);
    outbox.push(wire(HIGH_WATER_BYTES));
    outbox.push(wire(limits.lowWaterBytes - HIGH_WATER_BYTES - 1)); // queued
    expect(outbox.congested).toBe(false);
    outbox.push(wire(1));
    expect(outbox.congested).toBe(true);
    // The client reads what the socket held: only the queue is left, below the watermark.
    sink.buffered = 0;
    expect(outbox.bytes).toBe(limits.lowWaterBytes - HIGH_WATER_BYTES);
    expect(outbox.congested).toBe(false);
    expect(outbox.flush()).toBe("blocked");
    expect(outbox.bytes).toBe(limits.lowWaterBytes - HIGH_WATER_BYTES);
  });
});

describe("writer", () => {
  it("flush sends queued frames in order until the socket backs up, then reports blocked; whenDrained goes to the sink", () => {
    const { sink, outbox } = setup();
    outbox.push(wire(HIGH_WATER_BYTES));
    outbox.push(wire(HIGH_WATER_BYTES + 1));
    outbox.push(wire(7));
    expect(outbox.flush()).toBe("blocked");
    sink.buffered = 0;
    expect(outbox.flush()).toBe("blocked");
    sink.buffered = 0;
    expect(outbox.flush()).toBe("idle");
    expect(sink.written).toEqual([HIGH_WATER_BYTES, HIGH_WATER_BYTES + 1, 7]);
    let drained = false;
    outbox.whenDrained(() => (drained = true));
    sink.drainWaiters.forEach((w) => w());
    expect(drained).toBe(true);
  });

  it("close(false) keeps the queue for the writer; close(true) drops it", () => {
    const a = setup();
    a.outbox.push(wire(HIGH_WATER_BYTES));
    a.outbox.push(wire(10));
    a.outbox.close(false);
    a.sink.buffered = 0;
    expect(a.outbox.flush()).toBe("idle");
    expect(a.sink.written).toEqual([HIGH_WATER_BYTES, 10]);
    const b = setup();
    b.outbox.push(wire(HIGH_WATER_BYTES));
    b.outbox.push(wire(10));
    b.outbox.close(true);
    expect(b.outbox.pending).toBe(0);
    expect(b.outbox.bytes).toBe(HIGH_WATER_BYTES);
  });
});
