// One simulated client of a conformance case: a real WebSocket to the server under test. Every binary
// message received is decoded as a ServerFrame and kept, in arrival order, in a buffer that expectations
// search and take from; anything that is not a decodable ServerFrame (a text message, bad bytes) is kept as
// a protocol error of the server. Reading can be paused at the TCP socket to simulate a client that stops
// reading (slow consumer).
import { fromBinary, type JsonValue, toJson } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { type ServerFrame, ServerFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";

/** A received frame as the matcher sees it: protobuf JSON with proto field names and every field present. */
export interface Received {
  readonly json: Record<string, JsonValue>;
  /** The `kind` field's proto name, e.g. "room_joined". */
  readonly kind: string;
  readonly id: number;
  readonly atMs: number;
}

export interface Closed {
  readonly code: number;
  readonly reason: string;
  readonly atMs: number;
}

export interface ConnectOptions {
  readonly token?: string;
  readonly tokenIn?: "header" | "query";
  readonly origin?: string;
  readonly path?: string;
  readonly headers?: Record<string, string>;
}

export type ConnectOutcome =
  | { readonly ok: true; readonly client: TestClient }
  | { readonly ok: false; readonly status: number | undefined; readonly error: string };

/** Largest server message accepted: the contract says server frames can reach 8 MiB. */
const MAX_SERVER_MESSAGE = 16 * 1024 * 1024;

export const frameJson = (frame: ServerFrame): Record<string, JsonValue> =>
  toJson(ServerFrameSchema, frame, { alwaysEmitImplicit: true, useProtoFieldName: true }) as Record<string, JsonValue>;

const kindName = (frame: ServerFrame): string => {
  const c = frame.kind.case;
  if (c === undefined) return "(none)";
  return ServerFrameSchema.fields.find((f) => f.localName === c)?.name ?? c;
};

export class TestClient {
  readonly name: string;
  readonly ws: WebSocket;
  readonly openedAtMs: number;
  /** Received frames not yet taken by an expectation. */
  readonly buffer: Received[] = [];
  /** Messages from the server that break the protocol (text messages, undecodable bytes). */
  readonly violations: string[] = [];
  closed: Closed | undefined;
  private nextId = 1;
  private waiters = new Set<() => void>();
  private readonly closedPromise: Promise<Closed>;

  private constructor(name: string, ws: WebSocket) {
    this.name = name;
    this.ws = ws;
    this.openedAtMs = Date.now();
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        this.violations.push(`server sent a text message (${data.length} bytes)`);
      } else {
        try {
          const frame = fromBinary(ServerFrameSchema, new Uint8Array(data));
          this.buffer.push({ json: frameJson(frame), kind: kindName(frame), id: frame.id, atMs: Date.now() });
        } catch (e) {
          this.violations.push(`server sent an undecodable frame (${data.length} bytes): ${(e as Error).message}`);
        }
      }
      this.wake();
    });
    this.closedPromise = new Promise((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => {
        this.closed = { code, reason: reason.toString("utf8"), atMs: Date.now() };
        this.wake();
        resolve(this.closed);
      });
    });
    ws.on("error", () => {});
  }

  /** Opens a WebSocket; resolves with the client, or with the HTTP status that refused the upgrade. */
  static connect(name: string, url: string, options: ConnectOptions = {}): Promise<ConnectOutcome> {
    const target = new URL(url);
    if (options.path !== undefined) {
      const p = new URL(options.path, target);
      target.pathname = p.pathname;
      target.search = p.search;
    }
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) {
      if ((options.tokenIn ?? "header") === "header") headers.authorization = `Bearer ${options.token}`;
      else target.searchParams.set("token", options.token);
    }
    if (options.origin !== undefined) headers.origin = options.origin;
    const ws = new WebSocket(target, { headers, perMessageDeflate: false, maxPayload: MAX_SERVER_MESSAGE, handshakeTimeout: 10_000 });
    ws.binaryType = "nodebuffer";
    const client = new TestClient(name, ws);
    return new Promise((resolve) => {
      ws.once("open", () => resolve({ ok: true, client }));
      ws.once("unexpected-response", (_req, res) => {
        res.resume();
        resolve({ ok: false, status: res.statusCode, error: `HTTP ${res.statusCode}` });
        ws.terminate();
      });
      ws.once("error", (e) => resolve({ ok: false, status: undefined, error: e.message }));
    });
  }

  /** The next request id of this connection (1, 2, 3 ...). */
  takeId(): number {
    return this.nextId++;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  send(data: Uint8Array | string): void {
    if (this.ws.readyState !== WebSocket.OPEN)
      throw new Error(
        `client ${this.name} is not open (${this.closed ? `closed with ${this.closed.code}` : "state " + this.ws.readyState})`,
      );
    this.ws.send(data, { binary: typeof data !== "string" });
  }

  /** A WebSocket protocol-level ping (opcode 0x9), not a protocol Ping frame. */
  wsPing(payload: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error(`client ${this.name} is not open`);
    this.ws.ping(payload);
  }

  private get socket(): { pause(): void; resume(): void } | undefined {
    return (this.ws as unknown as { _socket?: { pause(): void; resume(): void } })._socket;
  }

  /** Stops reading from the TCP socket: the server's writes back up in the kernel, then in the server. */
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Resolves when something happens on the connection (a frame, a close) or after `ms`. */
  changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.waiters.add(done);
    });
  }

  waitClosed(ms: number): Promise<Closed | undefined> {
    return Promise.race([this.closedPromise, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms))]);
  }

  /** Closes normally (1000) and waits a little for the server's close; then cuts the TCP connection. */
  async close(abort = false): Promise<void> {
    if (abort) {
      this.ws.terminate();
    } else if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.resume();
      this.ws.close(1000, "bye");
      await this.waitClosed(1000);
      this.ws.terminate();
    }
    await this.waitClosed(1000);
  }
}
