// Small helpers shared by the real-socket server tests: sleeping, polling the server's own view of its
// connections, keeping a client alive with Pings, and reading error replies.
import type { ServerFrame } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import type { ErrorCode } from "../../proto/gen/es/chat/v1/error_pb.js";
import type { WireClient } from "./wire-client.ts";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 10 ms until it holds or `timeoutMs` passes (then throws with `what`). */
export const eventually = async (check: () => boolean | Promise<boolean>, timeoutMs = 3000, what = "condition"): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
};

/** The server's /healthz body. */
export const health = async (httpUrl: string): Promise<{ status: number; body: { status: string; connections: number } }> => {
  const res = await fetch(`${httpUrl}/healthz`);
  return { status: res.status, body: (await res.json()) as { status: string; connections: number } };
};

/** Waits until the server counts exactly `n` open WebSocket connections (so closes have been processed). */
export const connectionsSettle = (httpUrl: string, n: number) =>
  eventually(async () => (await health(httpUrl)).body.connections === n, 10_000, `${n} open connections`);

/** Sends a Ping every `everyMs` until the returned function is called. */
export const keepAlive = (client: WireClient, everyMs: number): (() => void) => {
  const timer = setInterval(() => {
    if (client.ws.readyState === client.ws.OPEN) client.send({ case: "ping", value: { nonce: 1n, clientTimeMs: BigInt(Date.now()) } });
  }, everyMs);
  return () => clearInterval(timer);
};

/** The error code of a reply, or undefined if the reply is not an error. */
export const errorCode = (frame: ServerFrame): ErrorCode | undefined => (frame.kind.case === "error" ? frame.kind.value.code : undefined);

/** The frames of `client` received so far of one kind (not removed from the buffer). */
export const framesOf = (client: WireClient, kind: NonNullable<ServerFrame["kind"]["case"]>) =>
  client.frames.filter((f) => f.kind.case === kind);
