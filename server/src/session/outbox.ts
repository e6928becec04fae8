// A connection's bounded outbox. The hot path writes straight to the socket when nothing is queued and the
// socket is not backed up; otherwise frames queue (at most `maxFrames`) for the writer fiber, which sends
// them as the socket drains. Overflow means a slow consumer; droppable frames (typing) are shed first.
import type { Sink, Wire } from "../transport/wire.ts";

/** Bytes buffered in ws and the kernel before the socket counts as backed up. */
export const HIGH_WATER_BYTES = 256 * 1024;

export class Outbox {
  private queue: Wire[] = [];
  private head = 0;
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly sink: Sink;
  private readonly maxFrames: number;
  private readonly onOverflow: () => void;
  /** Frames handed to the socket, for metrics. */
  sent = 0;
  /** Droppable frames shed because the client was slow. */
  dropped = 0;

  constructor(sink: Sink, maxFrames: number, onOverflow: () => void) {
    this.sink = sink;
    this.maxFrames = maxFrames;
    this.onOverflow = onOverflow;
  }

  get pending(): number {
    return this.queue.length - this.head;
  }

  private backedUp(): boolean {
    return this.sink.bufferedAmount >= HIGH_WATER_BYTES;
  }

  push(bytes: Wire, droppable = false): void {
    if (this.closed) return;
    if (this.pending === 0 && !this.backedUp()) {
      this.sink.write(bytes);
      this.sent++;
      return;
    }
    if (droppable && this.pending >= this.maxFrames / 2) {
      this.dropped++;
      return;
    }
    if (this.pending >= this.maxFrames) {
      this.closed = true;
      this.onOverflow();
      return;
    }
    this.queue.push(bytes);
    this.wake?.();
  }

  /** Stops accepting frames; queued frames are still flushed by `drain` unless `discard`. */
  close(discard: boolean): void {
    this.closed = true;
    if (discard) {
      this.queue = [];
      this.head = 0;
    }
    this.wake?.();
  }

  /**
   * Sends queued frames while the socket accepts them. Returns "idle" when the queue is empty, "blocked" when
   * the socket is backed up (call again after `waitDrain`).
   */
  flush(): "idle" | "blocked" {
    while (this.pending > 0) {
      if (this.backedUp()) return "blocked";
      const bytes = this.queue[this.head]!;
      this.queue[this.head++] = EMPTY;
      this.sink.write(bytes);
      this.sent++;
    }
    this.queue = [];
    this.head = 0;
    return "idle";
  }

  /** Resolves when something is queued (or the outbox closes). */
  waitForWork(): Promise<void> {
    if (this.pending > 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve();
      };
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }
}

const EMPTY = Buffer.alloc(0) as Wire;
