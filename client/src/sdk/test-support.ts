// Test-only helpers for the SDK suites (not exported by index.ts, never bundled): a WebSocket subclass
// that can go offline or lose chosen frames on a real socket, event recorders and polling waits.
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import type { AddressInfo } from "node:net";
import { WebSocketServer } from "ws";
import { type ClientFrame, ClientFrameSchema, type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import type { ChatClient, ChatEvents } from "./client.ts";

/** A loopback port that refuses connections (the discard port is not served here): a "network down". */
export const DEAD_URL = "ws://127.0.0.1:9/ws";

export interface SocketControl {
  /** New sockets connect to DEAD_URL instead of the real one. */
  offline: boolean;
  /** Every socket created, in order. */
  readonly sockets: WebSocket[];
  /** Return true to lose this incoming frame and close the socket (the frame never reaches the client). */
  loseIncoming: ((f: ServerFrame) => boolean) | undefined;
  /** Return true to lose this outgoing frame and close the socket (the server never sees it). */
  loseOutgoing: ((f: ClientFrame) => boolean) | undefined;
  /** Closes the newest socket from the client side, as a network loss the SDK did not ask for. */
  cut(): void;
  /** Frames lost so far. */
  lost: number;
}

const LOST = 3001; // a private-use close code: the SDK treats it as a transient loss

export function controlledWebSocket(): { ctl: SocketControl; WebSocket: typeof globalThis.WebSocket } {
  const ctl: SocketControl = {
    offline: false,
    sockets: [],
    loseIncoming: undefined,
    loseOutgoing: undefined,
    lost: 0,
    cut() {
      const ws = ctl.sockets.at(-1);
      if (ws && ws.readyState <= 1) ws.close(LOST, "test: connection cut");
    },
  };
  class ControlledWebSocket extends globalThis.WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(ctl.offline ? DEAD_URL : url, protocols);
      ctl.sockets.push(this);
    }

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (ctl.loseOutgoing && data instanceof Uint8Array && ctl.loseOutgoing(fromBinary(ClientFrameSchema, data))) {
        ctl.lost++;
        this.close(LOST, "test: frame lost");
        return;
      }
      super.send(data as ArrayBufferView<ArrayBuffer>);
    }

    // biome-ignore lint: the DOM overloads are not worth restating in a test double
    override addEventListener(type: string, listener: any, options?: any): void {
      if (type !== "message") {
        super.addEventListener(type, listener, options);
        return;
      }
      super.addEventListener(
        "message",
        (ev: MessageEvent) => {
          if (
            ctl.loseIncoming &&
            ev.data instanceof ArrayBuffer &&
            ctl.loseIncoming(fromBinary(ServerFrameSchema, new Uint8Array(ev.data)))
          ) {
            ctl.lost++;
            this.close(LOST, "test: frame lost");
            return;
          }
          if (this.readyState !== 1) return; // a real socket delivers nothing once closing
          listener(ev);
        },
        options,
      );
    }
  }
  return { ctl, WebSocket: ControlledWebSocket as typeof globalThis.WebSocket };
}

/** Records every event of a client, with the time it arrived. */
export function record(client: ChatClient) {
  const log: Array<{ [K in keyof ChatEvents]: { event: K; payload: ChatEvents[K]; at: number } }[keyof ChatEvents]> = [];
  const names: Array<keyof ChatEvents> = [
    "state",
    "authenticated",
    "message",
    "presence",
    "typing",
    "direct",
    "userPresence",
    "recovered",
    "notRecovered",
    "error",
    "closed",
  ];
  for (const name of names) client.on(name, (payload) => log.push({ event: name, payload, at: Date.now() } as never));
  const of = <K extends keyof ChatEvents>(event: K): ChatEvents[K][] =>
    log.filter((e) => e.event === event).map((e) => e.payload as ChatEvents[K]);
  return { log, of };
}

/** Polls `cond` every 10 ms until it holds or `timeoutMs` passes (then throws with `what`). */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

let counter = 0;
/** A username unique within a server's lifetime (usernames are at most 32 code points). */
export const uniqueName = (prefix: string) => `${prefix}${(Date.now() % 1e8).toString(36)}${(counter++).toString(36)}`;

export const PASSWORD = "correct horse battery";

type ServerKind = NonNullable<MessageInitShape<typeof ServerFrameSchema>["kind"]>;

export interface ScriptedConnection {
  readonly frames: ClientFrame[];
  readonly openedAt: number;
  closedAt?: number;
  closeCode?: number;
}

/**
 * A few lines of raw `ws` speaking the real protocol, for behaviour the real server will not show on
 * demand: it answers register/login/resume with an AuthOk (token "tok-1") or closes with `refuseAuth(n)`,
 * answers Pings only while `answerPings()` holds, and closes authenticated connection n with `closeWith(n)`.
 */
export async function scriptedServer(options: {
  heartbeatIntervalMs: number;
  answerPings?: () => boolean;
  closeWith?: (connection: number) => number | undefined;
  /** Instead of answering an auth frame on this connection, close it with the returned code. */
  refuseAuth?: (connection: number) => number | undefined;
  /** Extra AuthOk fields (e.g. roomGraceMs, typingTtlMs); left out, they are 0 as from an older server. */
  authOk?: { roomGraceMs?: number; typingTtlMs?: number };
}) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const connections: ScriptedConnection[] = [];
  wss.on("connection", (socket) => {
    const seen: ScriptedConnection = { frames: [], openedAt: Date.now() };
    const n = connections.push(seen) - 1;
    socket.on("close", (code) => {
      seen.closedAt = Date.now();
      seen.closeCode = code;
    });
    socket.on("message", (data: Buffer) => {
      const frame = fromBinary(ClientFrameSchema, new Uint8Array(data));
      seen.frames.push(frame);
      const reply = (kind: ServerKind) => socket.send(toBinary(ServerFrameSchema, create(ServerFrameSchema, { id: frame.id, kind })));
      switch (frame.kind.case) {
        case "register":
        case "login":
        case "resume": {
          const refuse = options.refuseAuth?.(n);
          if (refuse !== undefined) {
            socket.close(refuse, "scripted");
            return;
          }
          reply({
            case: "authOk",
            value: {
              username: "scripted",
              sessionToken: "tok-1",
              heartbeatIntervalMs: options.heartbeatIntervalMs,
              heartbeatTimeoutMs: 60_000,
              maxFrameBytes: 65536,
              ...options.authOk,
            },
          });
          const code = options.closeWith?.(n);
          if (code !== undefined) setTimeout(() => socket.close(code, "scripted"), 20);
          return;
        }
        case "ping":
          if (options.answerPings?.() ?? true)
            reply({
              case: "pong",
              value: { nonce: frame.kind.value.nonce, clientTimeMs: frame.kind.value.clientTimeMs, serverTimeMs: BigInt(Date.now()) },
            });
          return;
        default:
          return;
      }
    });
  });
  const close = () =>
    new Promise<void>((resolve) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => resolve());
    });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/ws`, connections, close };
}
