// A lean chat.v1 client for load generation: one `ws` socket, frames built from the generated schemas,
// replies matched by id, message pushes handed to a callback with their receive time, Pings every
// announced heartbeat interval. Built for thousands of instances in one process: no per-frame promises on
// the hot path (sends are fire-and-forget, acks are counted).
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import WebSocket from "ws";
import { ClientFrameSchema, type ServerFrame, ServerFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import type { ChatMessage } from "../../proto/gen/es/chat/v1/message_pb.js";

export type ClientKind = NonNullable<MessageInitShape<typeof ClientFrameSchema>["kind"]>;
type Case = NonNullable<ServerFrame["kind"]["case"]>;
export type FrameOf<C extends Case> = Extract<ServerFrame["kind"], { case: C }>["value"];

/** Wall-clock milliseconds with sub-millisecond resolution (performance.now() anchored at timeOrigin). */
export const nowMs = (): number => performance.timeOrigin + performance.now();

export class RequestFailed extends Error {}

export interface ChatConnOptions {
  /** Session token presented at the upgrade (the connection starts authenticated). */
  readonly token?: string;
  /** Source address, e.g. 127.0.0.2, to spread connections over more ephemeral ports. */
  readonly localAddress?: string;
  readonly timeoutMs?: number;
}

export class ChatConn {
  readonly ws: WebSocket;
  /** When the connection attempt started (nowMs). */
  readonly startedAt: number;
  closeCode: number | undefined;
  /** Message pushes: the decoded message and when it arrived (nowMs). */
  onMessage: (message: ChatMessage, receivedAt: number) => void = () => {};
  /** Replies to fire-and-forget sends (send_ack or error). */
  onSendReply: (frame: ServerFrame) => void = () => {};
  /** Any close; `expected` is true after close() was called here. */
  onClose: (code: number, expected: boolean) => void = () => {};
  /** The AuthOk pushed first by a connection authenticated at the upgrade. */
  readonly authPush: Promise<FrameOf<"authOk">> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (frame: ServerFrame) => void>();
  private readonly sendIds = new Set<number>();
  private heartbeat: NodeJS.Timeout | undefined;
  private closing = false;
  private authResolve: ((a: FrameOf<"authOk">) => void) | undefined;
  private readonly timeoutMs: number;

  private constructor(url: string, options: ChatConnOptions) {
    this.startedAt = nowMs();
    this.timeoutMs = options.timeoutMs ?? 15_000;
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    this.ws = new WebSocket(url, {
      headers,
      perMessageDeflate: false,
      maxPayload: 16 * 1024 * 1024,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    this.ws.binaryType = "nodebuffer";
    if (options.token) this.authPush = new Promise((resolve) => (this.authResolve = resolve));
    this.ws.on("message", (data: Buffer) => this.receive(data));
    this.ws.on("close", (code) => {
      this.closeCode = code;
      if (this.heartbeat) clearInterval(this.heartbeat);
      this.onClose(code, this.closing);
    });
    this.ws.on("error", () => {});
  }

  /** Opens a socket; resolves once the upgrade succeeded. */
  static open(url: string, options: ChatConnOptions = {}): Promise<ChatConn> {
    const conn = new ChatConn(url, options);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        conn.ws.terminate();
        reject(new Error("connect timed out"));
      }, conn.timeoutMs);
      conn.ws.once("open", () => {
        clearTimeout(timer);
        resolve(conn);
      });
      conn.ws.once("unexpected-response", (_req, res) => {
        clearTimeout(timer);
        conn.ws.terminate();
        reject(new Error(`HTTP ${res.statusCode} at the upgrade`));
      });
      conn.ws.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  private receive(data: Buffer): void {
    const receivedAt = nowMs();
    const frame = fromBinary(ServerFrameSchema, data);
    if (frame.id === 0) {
      if (frame.kind.case === "message") this.onMessage(frame.kind.value, receivedAt);
      else if (frame.kind.case === "authOk" && this.authResolve) {
        this.authResolve(frame.kind.value);
        this.authResolve = undefined;
      }
      return;
    }
    if (this.sendIds.delete(frame.id)) return this.onSendReply(frame);
    const resolve = this.pending.get(frame.id);
    if (resolve) {
      this.pending.delete(frame.id);
      resolve(frame);
    }
  }

  private write(kind: ClientKind): number {
    const id = this.nextId++;
    if (this.nextId > 0xffff_fff0) this.nextId = 1;
    this.ws.send(toBinary(ClientFrameSchema, create(ClientFrameSchema, { id, kind })));
    return id;
  }

  /** Sends a request and resolves with its reply, whatever its kind (error included). */
  request(kind: ClientKind): Promise<ServerFrame> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState !== WebSocket.OPEN) return reject(new RequestFailed(`${kind.case}: socket not open`));
      const id = this.write(kind);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestFailed(`${kind.case}: no reply in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, (frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
    });
  }

  /** Sends a request and returns the reply's value when it is of kind `expected`; throws otherwise. */
  async call<C extends Case>(kind: ClientKind, expected: C): Promise<FrameOf<C>> {
    const reply = await this.request(kind);
    if (reply.kind.case !== expected) {
      const detail = reply.kind.case === "error" ? `error ${reply.kind.value.code} ${reply.kind.value.message}` : String(reply.kind.case);
      throw new RequestFailed(`${kind.case}: got ${detail}`);
    }
    return reply.kind.value as FrameOf<C>;
  }

  /** Fire-and-forget send_message; its ack (or error) goes to onSendReply. */
  sendMessage(roomCode: string, clientMessageId: string, text: string): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.sendIds.add(this.write({ case: "sendMessage", value: { roomCode, clientMessageId, text } }));
  }

  /** Pings every `intervalMs` (first one after a random part of it, so thousands of connections spread out). */
  startHeartbeat(intervalMs: number): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    let nonce = 0n;
    const ping = () => {
      if (this.ws.readyState !== WebSocket.OPEN) return;
      this.sendIds.add(this.write({ case: "ping", value: { nonce: ++nonce, clientTimeMs: BigInt(Date.now()) } }));
    };
    const first = setTimeout(() => {
      ping();
      this.heartbeat = setInterval(ping, intervalMs);
    }, Math.random() * intervalMs);
    this.heartbeat = first;
  }

  close(): void {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
  }
}
