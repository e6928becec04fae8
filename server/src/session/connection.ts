// One WebSocket connection: the supervised fibers around the pure state machine. A heartbeat fiber lives as
// long as the connection: it closes a silent connection, and one that never authenticates. The others exist
// only while there is work, so an idle connection holds one fiber (memory per connection is a scale target):
// a processor fiber takes frames in order and executes requests, started by the frame that finds none
// running (it runs synchronously up to the first request that waits); a writer fiber drains the bounded
// outbox while the socket is backed up. A defect in any of them closes the connection (1011). The scope's
// finalizer stops them and takes the connection out of every room and of presence, whatever ended it (a peer
// the server gives up on, 4000 or 4001, is taken out at once, before its close handshake; the others hear of
// it after the presence grace, as for any close the user did not ask for).
import { create, fromBinary } from "@bufbuild/protobuf";
import { Cause, Effect, Fiber } from "effect";
import type { RawData, WebSocket } from "ws";
import { ClientFrameSchema, type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { ServerConfig } from "../config.ts";
import { encode, Hub, type Peer } from "../hub/hub.ts";
import { Metrics } from "../metrics.ts";
import { type Authenticated, authOkKind, type ConnectionView, Handlers } from "./handlers.ts";
import { type Input, initialState, type Limits, type SessionState, step, type Action } from "./machine.ts";
import { lowWaterFor, Outbox } from "./outbox.ts";
import { sinkOf } from "../transport/wire.ts";

/** Inbound frames buffered before the socket stops reading (TCP backpressure on the client). */
const INBOX_PAUSE = 256;
const INBOX_RESUME = 64;

export interface ConnectionInfo {
  readonly id: number;
  readonly ws: WebSocket;
  readonly ip: string;
  /** Set when the HTTP upgrade carried a valid session token. */
  readonly preauth: Authenticated | undefined;
  /** Called once when the connection authenticates (for the unauthenticated-connection cap). */
  readonly onAuthenticated: () => void;
}

/** The handle the transport keeps to shut a connection down gracefully. */
export interface ConnectionHandle {
  shutdown(): void;
}

const toBytes = (data: RawData): Uint8Array =>
  Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;

export const runConnection = (info: ConnectionInfo, register: (handle: ConnectionHandle) => () => void) =>
  Effect.scoped(
    Effect.gen(function* () {
      const config = yield* ServerConfig;
      const hub = yield* Hub;
      const handlers = yield* Handlers;
      const metrics = yield* Metrics;
      const context = yield* Effect.context<never>();
      const { ws, ip } = info;
      const limits: Limits = {
        ratePerSec: config.rateLimitPerSec,
        burst: config.rateLimitBurst,
        maxViolations: config.maxViolations,
        maxRateStrikes: config.rateLimitBurst,
      };

      const startedAt = Date.now();
      let state: SessionState = initialState(startedAt, limits);
      let lastSeen = startedAt;
      let peer: Peer | undefined;
      let closeRequested: Extract<Action, { _tag: "Close" }> | undefined;
      const rooms = new Set<string>();
      let socketClosed = false;
      let onSocketClosed: (() => void) | undefined;

      // Called both where the close is decided and by the writer once the queue is flushed: only the call
      // that actually starts the close handshake counts it.
      const closeSocket = (code: CloseCode, reason: string) => {
        if (ws.readyState !== ws.OPEN) return;
        metrics.closes.inc({ code: String(code) });
        ws.close(code, reason);
      };

      /**
       * Takes the connection out of every room and of presence; safe to repeat. The others see the user leave
       * after the presence grace (a reload or a blip shows nothing), except after a logout (1000) or a revoked
       * session (4104): the user asked to go, so they leave at once.
       */
      const leaveEverything = () => {
        const asked = closeRequested?.code === CloseCode.NORMAL || closeRequested?.code === CloseCode.SESSION_REVOKED;
        if (peer) hub.removePeer(peer, rooms, !asked);
        rooms.clear();
      };

      // The goodbye is bounded: a peer that neither drains the queued replies nor answers the close frame
      // (a stuck reader, a dead network) is cut off after the heartbeat timeout instead of lingering (ws
      // alone waits 30 s for the close handshake, and a blocked outbox never reaches it), so the
      // connection leaves its rooms and presence promptly.
      let closeDeadline: ReturnType<typeof setTimeout> | undefined;
      const armCloseDeadline = () => {
        closeDeadline ??= setTimeout(() => ws.terminate(), config.heartbeatTimeoutMs);
      };

      /** A defect in one of the connection's fibers: logged, and the connection closes with 1011. */
      const supervised = <A>(fiber: Effect.Effect<A>): Effect.Effect<unknown> =>
        Effect.catchCause(fiber, (cause) =>
          Cause.hasInterruptsOnly(cause)
            ? Effect.void
            : Effect.logError("connection fiber failed", { cause: String(cause) }).pipe(
                Effect.andThen(
                  Effect.sync(() => {
                    closeSocket(CloseCode.INTERNAL_ERROR, "internal error");
                    armCloseDeadline();
                  }),
                ),
              ),
        );
      /** Starts a fiber at once (it runs synchronously up to its first wait); the finalizer interrupts it. */
      const start = (effect: Effect.Effect<unknown>) => Effect.runForkWith(context)(supervised(effect));

      // --- outbound: frames go straight to the socket; a writer fiber exists only while it is backed up ---
      let writing = false;
      let writer: Fiber.Fiber<unknown> | undefined;
      const drained = Effect.callback<void>((resume) => {
        const cancel = outbox.whenDrained(() => resume(Effect.void));
        return Effect.sync(cancel);
      });
      // Started by the first frame that queues, i.e. when the socket is backed up: it waits for the socket to
      // drain first. It ends once the queue is empty (closing the socket if a close waited for the queue).
      const writeBacklog = Effect.gen(function* () {
        do yield* drained;
        while (outbox.flush() === "blocked");
        writing = false;
        writer = undefined;
        if (outbox.isClosed && closeRequested) closeSocket(closeRequested.code, closeRequested.reason);
      });

      const outbox: Outbox = new Outbox(
        sinkOf(ws),
        { maxBytes: config.outboxBytes, maxFrames: config.outboxFrames, lowWaterBytes: lowWaterFor(config.outboxBytes) },
        () => applyNow({ _tag: "SlowConsumer" }),
        () => {
          if (writing) return;
          writing = true;
          const fiber = start(writeBacklog);
          if (writing) writer = fiber;
        },
      );
      const send = (frame: ServerFrame) => outbox.push(encode(frame));

      const perform = (action: Action) => {
        if (action._tag === "Send") {
          if (action.frame.kind.case === "error") metrics.errors.inc({ code: String(action.frame.kind.value.code) });
          send(action.frame);
        } else if (action._tag === "Close") {
          closeRequested = action;
          // A slow consumer's backlog is dropped; otherwise queued replies (e.g. the error that explains the
          // close) go out first and the writer closes after them.
          outbox.close(action.code === CloseCode.SLOW_CONSUMER);
          if (outbox.pending === 0) closeSocket(action.code, action.reason);
          armCloseDeadline();
          // A peer that stopped reading (4001) or went silent (4000, e.g. a frozen process) will likely not
          // answer the close either: the others should not wait for the cutoff to see it leave.
          // (After the current synchronous work: an overflow can happen in the middle of the hub's fan-out.)
          if (action.code === CloseCode.HEARTBEAT_TIMEOUT || action.code === CloseCode.SLOW_CONSUMER) queueMicrotask(leaveEverything);
        }
      };

      /** Applies an input that needs no request execution, synchronously (timers, socket events, outside closes). */
      const applyNow = (input: Input) => {
        const result = step(state, input, Date.now(), limits);
        state = result.state;
        for (const action of result.actions) perform(action);
      };

      const becomeReady = (auth: Authenticated) => {
        applyNow({ _tag: "Authenticated", username: auth.username, token: auth.token });
        if (state._tag !== "Ready" || peer) return;
        peer = {
          id: info.id,
          username: auth.username,
          token: auth.token,
          send: (bytes, droppable) => outbox.push(bytes, droppable),
          terminate: (reason) => applyNow({ _tag: reason }),
        };
        hub.addPeer(peer);
        info.onAuthenticated();
      };

      const view: ConnectionView = {
        ip,
        get peer() {
          return peer;
        },
        rooms,
        sendNow: send,
      };

      // --- inbound: every message counts as liveness; frames queue for the processor in order ---
      const inbox: Input[] = [];
      let inboxHead = 0;
      // A fiber may finish while it is being started: only a running one is kept (for the finalizer).
      let processing = false;
      let processor: Fiber.Fiber<unknown> | undefined;
      let paused = false;
      const socket = (ws as unknown as { _socket?: { pause(): void; resume(): void } })._socket;

      const take = (): Input => {
        const input = inbox[inboxHead++]!;
        if (inboxHead === inbox.length) {
          inbox.length = 0;
          inboxHead = 0;
        }
        if (paused && inbox.length - inboxHead <= INBOX_RESUME) {
          paused = false;
          socket?.resume();
        }
        return input;
      };

      // Runs until the inbox is empty, then ends (the next frame starts another): frames are stepped and
      // executed strictly in arrival order, one request at a time.
      const processInbox = Effect.gen(function* () {
        while (inboxHead < inbox.length) {
          const input = take();
          if (state._tag === "Closing") continue;
          const result = step(state, input, Date.now(), limits, outbox.congested);
          state = result.state;
          for (const action of result.actions) {
            if (action._tag !== "Execute") {
              perform(action);
              continue;
            }
            const started = performance.now();
            const outcome = yield* handlers.handle(view, action.id, action.request);
            metrics.requestTime(action.request.case, (performance.now() - started) / 1000);
            if (state._tag === "Closing") break;
            switch (outcome._tag) {
              case "Reply":
                if (outcome.frame.kind.case === "error") metrics.errors.inc({ code: String(outcome.frame.kind.value.code) });
                send(outcome.frame);
                break;
              case "Sent":
                break;
              case "Authenticated":
                send(outcome.frame);
                becomeReady(outcome.auth);
                break;
              case "LoggedOut":
                send(outcome.frame);
                applyNow({ _tag: "LoggedOut" });
                break;
            }
          }
        }
        processing = false;
        processor = undefined;
      });

      ws.on("message", (data: RawData, isBinary: boolean) => {
        lastSeen = Date.now();
        if (state._tag === "Closing") return;
        if (!isBinary) {
          metrics.frameIn("text");
          return applyNow({ _tag: "Text" });
        }
        let input: Input;
        try {
          input = { _tag: "Frame", frame: fromBinary(ClientFrameSchema, toBytes(data)) };
        } catch {
          input = { _tag: "Malformed" };
        }
        metrics.frameIn(input._tag === "Frame" ? (input.frame.kind.case ?? "unknown") : "malformed");
        inbox.push(input);
        if (!paused && inbox.length - inboxHead >= INBOX_PAUSE && socket) {
          paused = true;
          socket.pause();
        }
        if (processing) return;
        processing = true;
        const fiber = start(processInbox);
        if (processing) processor = fiber;
      });
      const socketGone = () => {
        socketClosed = true;
        onSocketClosed?.();
      };
      ws.on("close", socketGone);
      ws.on("error", socketGone);

      // Closes a connection that goes silent for the heartbeat timeout, and one that has not authenticated
      // by the auth deadline (counted from the upgrade).
      const authDeadlineAt = startedAt + config.authTimeoutMs;
      let heartbeatFiber: Fiber.Fiber<unknown> | undefined;
      const heartbeat = Effect.gen(function* () {
        while (state._tag !== "Closing") {
          const now = Date.now();
          if (state._tag === "AwaitingAuth" && now >= authDeadlineAt) {
            applyNow({ _tag: "AuthDeadline" });
            continue;
          }
          const remaining = lastSeen + config.heartbeatTimeoutMs - now;
          if (remaining <= 0) return applyNow({ _tag: "HeartbeatTimeout" });
          yield* Effect.sleep(state._tag === "AwaitingAuth" ? Math.min(remaining, authDeadlineAt - now) : remaining);
        }
      });

      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          if (heartbeatFiber) yield* Fiber.interrupt(heartbeatFiber);
          if (processor) yield* Fiber.interrupt(processor);
          if (writer) yield* Fiber.interrupt(writer);
          clearTimeout(closeDeadline);
          outbox.close(true);
          leaveEverything();
          metrics.framesOut.inc(outbox.sent);
          metrics.framesDropped.inc(outbox.dropped);
          metrics.outboxPeakBytes.observe(outbox.peakBytes);
          if (ws.readyState !== ws.CLOSED) ws.terminate();
        }),
      );
      const unregister = register({ shutdown: () => applyNow({ _tag: "Shutdown" }) });
      yield* Effect.addFinalizer(() => Effect.sync(unregister));

      if (info.preauth) {
        // Authenticated at the upgrade: the first frame announces the session and heartbeat, as a push.
        send(create(ServerFrameSchema, { id: 0, kind: authOkKind(info.preauth, config) }));
        becomeReady(info.preauth);
      }

      heartbeatFiber = yield* Effect.forkChild(supervised(heartbeat));

      // The connection lives until the socket closes.
      yield* Effect.callback<void>((resume) => {
        if (socketClosed) return resume(Effect.void);
        onSocketClosed = () => resume(Effect.void);
      });
    }),
  );
