// A raw protocol client for server tests: real `ws` sockets, frames built from the generated schemas,
// replies matched by id, pushes and the close code observable. Not the SDK: tests see the wire as it is.
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { ClientFrameSchema, type ServerFrame, ServerFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";

export type ClientKind = NonNullable<MessageInitShape<typeof ClientFrameSchema>["kind"]>;
type Case = NonNullable<ServerFrame["kind"]["case"]>;
export type FrameOf<C extends Case> = Extract<ServerFrame["kind"], { case: C }>["value"];

export class WireClient {
  readonly ws: WebSocket;
  readonly frames: ServerFrame[] = [];
  private nextId = 1;
  private waiters: Array<() => void> = [];
  closeCode: number | undefined;
  private readonly closed: Promise<number>;
  private readonly opened: Promise<void>;

  /** `localAddress` binds the client socket (127.0.0.2, 127.0.0.3 ... are all loopback on Linux: distinct clients). */
  constructor(url: string, options: { token?: string; origin?: string; headers?: Record<string, string>; localAddress?: string } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (options.origin) headers.origin = options.origin;
    this.ws = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    this.ws.binaryType = "nodebuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      this.ws.once("error", reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.on("close", (code) => {
        this.closeCode = code;
        this.wake();
        resolve(code);
      }),
    );
    this.ws.on("message", (data: Buffer) => {
      this.frames.push(fromBinary(ServerFrameSchema, new Uint8Array(data)));
      this.wake();
    });
  }

  static async open(url: string, options?: ConstructorParameters<typeof WireClient>[1]): Promise<WireClient> {
    const c = new WireClient(url, options);
    await c.opened;
    return c;
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Sends a frame; returns its id. */
  send(kind: ClientKind, id = this.nextId++): number {
    this.ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, kind })));
    return id;
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  /** Waits until a received frame satisfies `match` (and removes it from the buffer). */
  async waitFor(match: (f: ServerFrame) => boolean, timeoutMs = 3000, what = "frame"): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(match);
      if (i >= 0) return this.frames.splice(i, 1)[0]!;
      if (this.closeCode !== undefined) throw new Error(`socket closed (${this.closeCode}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; have: ${this.frames.map((f) => f.kind.case).join(",")}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a request and returns its reply (any kind, error included). */
  async request(kind: ClientKind, timeoutMs = 3000): Promise<ServerFrame> {
    const id = this.send(kind);
    return this.waitFor((f) => f.id === id, timeoutMs, `reply to ${kind.case}#${id}`);
  }

  /** Sends a request and returns the reply's value, failing if the reply is of another kind. */
  async call<C extends Case>(kind: ClientKind, expected: C, timeoutMs = 3000): Promise<FrameOf<C>> {
    const reply = await this.request(kind, timeoutMs);
    if (reply.kind.case !== expected) {
      const detail = reply.kind.case === "error" ? ` (error ${reply.kind.value.code}: ${reply.kind.value.message})` : "";
      throw new Error(`expected ${expected}, got ${reply.kind.case}${detail}`);
    }
    return reply.kind.value as FrameOf<C>;
  }

  async push<C extends Case>(expected: C, filter: (v: FrameOf<C>) => boolean = () => true, timeoutMs = 3000): Promise<FrameOf<C>> {
    const f = await this.waitFor(
      (f) => f.id === 0 && f.kind.case === expected && filter(f.kind.value as FrameOf<C>),
      timeoutMs,
      `push ${expected}`,
    );
    return f.kind.value as FrameOf<C>;
  }

  /** Resolves with the close code. */
  waitClose(timeoutMs = 5000): Promise<number> {
    return Promise.race([
      this.closed,
      new Promise<number>((_, reject) => setTimeout(() => reject(new Error("socket did not close")), timeoutMs)),
    ]);
  }

  close(): void {
    this.ws.close();
  }
}

let counter = 0;
/** A username unique within the test run. */
export const uniqueName = (prefix = "user") => `${prefix}${process.pid}x${++counter}`;

/** Opens a socket and registers a fresh user on it. */
export const registered = async (url: string, username = uniqueName(), password = "correct horse battery") => {
  const client = await WireClient.open(url);
  const auth = await client.call({ case: "register", value: { username, password } }, "authOk");
  return { client, auth, username, password };
};
