// A connection's bounded outbox. The hot path writes straight to the socket when nothing is queued and the
// socket is not backed up; otherwise frames queue, and the first one to queue calls `onBacklog` so the
// connection starts a writer that sends them as the socket drains (`whenDrained`, `flush`). The outbox is bounded in bytes, counting everything not yet handed to the kernel (queued
// frames, frames held for this tick, the socket's own buffer), and in frames; over either bound the client is
// a slow consumer. Above a lower watermark it is "congested": droppable frames (typing) are shed and the
// connection stops executing requests with large replies (see machine.ts).
import type { Sink, Wire } from "../transport/wire.ts";

/** Bytes buffered in ws and the kernel before the socket counts as backed up and frames start to queue. */
export const HIGH_WATER_BYTES = 256 * 1024;
/** Frames up to this size written straight to an idle socket skip the budget arithmetic (see `push`). */
const SMALL_FRAME_BYTES = 64 * 1024;

export interface OutboxLimits {
  /** Most bytes the outbox may hold; a frame that would take it over this closes the connection (4001). */
  readonly maxBytes: number;
  /** Most frames that may queue behind a backed-up socket (a bound on how far behind a client may fall). */
  readonly maxFrames: number;
  /** From this many bytes on the outbox is congested. */
  readonly lowWaterBytes: number;
}

/**
 * The congestion watermark for a byte budget: an eighth of it (1 MiB of the default 8 MiB). A large reply
 * (at most ~4.3 MB at the default limits) is only started below it, so it fits in the budget with room
 * left for the pushes that arrive while it drains.
 */
export const lowWaterFor = (maxBytes: number): number => Math.floor(maxBytes / 8);

export class Outbox {
  private queue: Wire[] = [];
  private head = 0;
  private queuedBytes = 0;
  private closed = false;
  private readonly sink: Sink;
  private readonly limits: OutboxLimits;
  private readonly onOverflow: () => void;
  private readonly onBacklog: () => void;
  /** Frames handed to the socket, for metrics. */
  sent = 0;
  /** Droppable frames shed because the client was slow. */
  dropped = 0;
  /**
   * The most bytes this outbox has held (never above `maxBytes`), for metrics and tuning: exact once the
   * socket backs up or a large frame is written; below that it may miss up to HIGH_WATER_BYTES + 64 KiB.
   */
  peakBytes = 0;

  /**
   * `onOverflow`: the budget was exceeded (the outbox is closed and emptied). `onBacklog`: a frame queued
   * while nothing was queued; someone must `flush` once the socket drains, until it reports "idle".
   */
  constructor(sink: Sink, limits: OutboxLimits, onOverflow: () => void, onBacklog: () => void = () => {}) {
    this.sink = sink;
    this.limits = limits;
    this.onOverflow = onOverflow;
    this.onBacklog = onBacklog;
    // The hot path relies on this (see `push`); config.ts asks for at least 1 MiB.
    if (limits.maxBytes < HIGH_WATER_BYTES + SMALL_FRAME_BYTES)
      throw new Error(`outbox budget below ${HIGH_WATER_BYTES + SMALL_FRAME_BYTES} bytes`);
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Bytes accepted for this client and not yet handed to the kernel. */
  get bytes(): number {
    return this.queuedBytes + this.sink.bufferedAmount;
  }

  /** At or over the low watermark: requests with large replies are refused until the client has read more. */
  get congested(): boolean {
    return this.bytes >= this.limits.lowWaterBytes;
  }

  push(bytes: Wire, droppable = false): void {
    if (this.closed) return;
    const buffered = this.sink.bufferedAmount;
    if (this.pending === 0 && buffered < HIGH_WATER_BYTES) {
      // The hot path. A frame of up to SMALL_FRAME_BYTES cannot take the outbox over its budget here
      // (HIGH_WATER_BYTES + SMALL_FRAME_BYTES <= maxBytes), so only a larger one is checked and counted.
      // (A constant, not a field: the extra load showed in the fan-out microbenchmark.)
      if (bytes.length > SMALL_FRAME_BYTES) {
        const total = buffered + bytes.length;
        if (total > this.limits.maxBytes) return this.overflow();
        if (total > this.peakBytes) this.peakBytes = total;
      }
      this.sink.write(bytes);
      this.sent++;
      return;
    }
    this.enqueue(bytes, droppable, buffered);
  }

  /** The slow path, kept out of `push` so that stays small enough for the JIT to inline into fan-out. */
  private enqueue(bytes: Wire, droppable: boolean, buffered: number): void {
    const total = this.queuedBytes + buffered + bytes.length;
    if (droppable && total >= this.limits.lowWaterBytes) {
      this.dropped++;
      return;
    }
    if (total > this.limits.maxBytes || this.pending >= this.limits.maxFrames) return this.overflow();
    if (total > this.peakBytes) this.peakBytes = total;
    this.queue.push(bytes);
    this.queuedBytes += bytes.length;
    if (this.pending === 1) this.onBacklog();
  }

  /** Over budget: the backlog is discarded at once (its memory is what the budget protects). */
  private overflow(): void {
    this.close(true);
    this.onOverflow();
  }

  /** Stops accepting frames; queued frames are still flushed by `flush` unless `discard`. */
  close(discard: boolean): void {
    this.closed = true;
    if (discard) {
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
    }
  }

  /**
   * Sends queued frames while the socket accepts them. Returns "idle" when the queue is empty, "blocked" when
   * the socket is backed up (call again once `whenDrained` has called back).
   */
  flush(): "idle" | "blocked" {
    while (this.pending > 0) {
      if (this.sink.bufferedAmount >= HIGH_WATER_BYTES) return "blocked";
      const bytes = this.queue[this.head]!;
      this.queue[this.head++] = EMPTY;
      this.queuedBytes -= bytes.length;
      this.sink.write(bytes);
      this.sent++;
    }
    this.queue = [];
    this.head = 0;
    return "idle";
  }

  /** Calls `ready` once the socket has drained (or closed); returns a function that cancels the wait. */
  whenDrained(ready: () => void): () => void {
    return this.sink.whenDrained(ready);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

const EMPTY = Buffer.alloc(0) as Wire;
