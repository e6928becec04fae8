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
  /** Bytes accepted but not yet handed to the kernel (ws's own buffer plus the socket's). */
  readonly bufferedAmount: number;
}

export const sinkOf = (connection: WebSocket): Sink => {
  // ws 8 writes every frame it sends to this socket in order; writing pre-framed data to it directly keeps
  // that order and skips ws's framing. Permessage-deflate is off, so ws never holds frames back.
  const socket = (connection as unknown as { _socket: { write(b: Buffer): boolean } })._socket;
  return {
    write(wire) {
      if (connection.readyState === connection.OPEN) socket.write(wire);
    },
    get bufferedAmount() {
      return connection.bufferedAmount;
    },
  };
};
