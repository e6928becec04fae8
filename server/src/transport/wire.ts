// Outgoing frames are framed once: the protobuf bytes get their WebSocket header here (ws's own framing
// code), and the resulting buffer is written as is to every socket that receives it. A broadcast to N
// members costs one encode and one framing, not N.
import * as ws from "ws";
import type { WebSocket } from "ws";

interface FrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly readOnly: boolean;
  readonly rsv1: boolean;
}
// ws exports its Sender (the framing code) at runtime; @types/ws does not declare it.
const frame = (ws as unknown as { Sender: { frame(data: Uint8Array, options: FrameOptions): Buffer[] } }).Sender.frame;
const BINARY: FrameOptions = { fin: true, opcode: 0x2, mask: false, readOnly: true, rsv1: false };

/** A complete unmasked binary WebSocket frame (header + payload), ready to write to any connection's socket. */
export type Wire = Buffer & { readonly __wire: unique symbol };

export const frameBinary = (payload: Uint8Array): Wire => Buffer.concat(frame(payload, BINARY)) as Wire;

/** The protobuf payload of a Wire frame (for tests and logs). */
export const payloadOf = (wire: Uint8Array): Uint8Array => {
  const len7 = wire[1]! & 0x7f;
  return wire.subarray(len7 < 126 ? 2 : len7 === 126 ? 4 : 10);
};

/** Where a connection's outbox writes: the raw socket under ws, bypassing per-send framing. */
export interface Sink {
  write(frame: Wire): void;
  /** Bytes accepted but not yet handed to the kernel (frames held for this tick plus the socket's buffer). */
  readonly bufferedAmount: number;
  /**
   * Calls `ready` once the socket has handed what it buffers to the kernel (its 'drain' event), or at once
   * (after this tick's held frames were written) if it is not waiting for one. Never, if the socket is
   * destroyed first: the connection is ending and its fibers are interrupted (a writer woken then would
   * only find the socket still "backed up" and spin). Returns a function that cancels the wait.
   */
  whenDrained(ready: () => void): () => void;
}

interface RawSocket {
  write(b: Buffer): boolean;
  cork(): void;
  uncork(): void;
  once(event: "drain", listener: () => void): unknown;
  off(event: "drain", listener: () => void): unknown;
  readonly writableLength: number;
  readonly writableNeedDrain: boolean;
  readonly destroyed: boolean;
}

/** Frames for one connection within one tick are joined into one write when they add up to at most this. */
const COALESCE_MAX_BYTES = 64 * 1024;

// Frames written during one tick of the event loop are held per connection and handed to the socket when
// the tick's synchronous work is done (a microtask): a connection that gets several frames in one tick (a
// group-committed batch of messages to its room, presence plus a message, a reply plus pushes) costs one
// write system call instead of one per frame. A single frame is written as is, without copying.
const dirty: SocketSink[] = [];
let flushQueued = false;
const flushDirty = () => {
  flushQueued = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
};

class SocketSink implements Sink {
  private readonly ws: WebSocket;
  private readonly socket: RawSocket;
  private first: Wire | undefined;
  private rest: Wire[] | undefined;
  private heldBytes = 0;

  constructor(ws: WebSocket, socket: RawSocket) {
    this.ws = ws;
    this.socket = socket;
  }

  write(wire: Wire): void {
    if (this.first === undefined) {
      this.first = wire;
      dirty.push(this);
      if (!flushQueued) {
        flushQueued = true;
        queueMicrotask(flushDirty);
      }
    } else {
      (this.rest ??= []).push(wire);
    }
    this.heldBytes += wire.length;
  }

  /** Hands the held frames to the socket, in order (dropped if the connection is no longer open). */
  flush(): void {
    const first = this.first;
    if (first === undefined) return;
    const rest = this.rest;
    const bytes = this.heldBytes;
    this.first = undefined;
    this.rest = undefined;
    this.heldBytes = 0;
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (rest === undefined) {
      this.socket.write(first);
    } else if (bytes <= COALESCE_MAX_BYTES) {
      this.socket.write(Buffer.concat([first, ...rest], bytes));
    } else {
      // Large frames are not copied: corked writes leave as one writev.
      this.socket.cork();
      this.socket.write(first);
      for (const wire of rest) this.socket.write(wire);
      this.socket.uncork();
    }
  }

  get bufferedAmount(): number {
    return this.heldBytes + this.socket.writableLength;
  }

  whenDrained(ready: () => void): () => void {
    const socket = this.socket;
    let state: "checking" | "listening" | "done" = "checking";
    const done = () => {
      if (state === "done") return;
      state = "done";
      ready();
    };
    // Frames held for this tick go to the socket in a microtask queued before this one; only then does the
    // socket know whether it must wait for the kernel.
    queueMicrotask(() => {
      if (state !== "checking") return;
      if (socket.destroyed) {
        state = "done";
        return;
      }
      if (!socket.writableNeedDrain) return done();
      state = "listening";
      socket.once("drain", done);
    });
    return () => {
      if (state === "listening") socket.off("drain", done);
      state = "done";
    };
  }
}

export const sinkOf = (connection: WebSocket): Sink => {
  // ws 8 writes every frame it sends to this socket in order; writing pre-framed data to it directly keeps
  // that order and skips ws's framing. Permessage-deflate is off, so ws never holds frames back.
  const socket = (connection as unknown as { _socket: RawSocket })._socket;
  const sink = new SocketSink(connection, socket);
  // ws writes its close frame straight to the socket: frames held for this tick must go out before it.
  const close = connection.close;
  connection.close = function (this: WebSocket, code?: number, reason?: string | Buffer) {
    sink.flush();
    close.call(this, code, reason);
  };
  return sink;
};
