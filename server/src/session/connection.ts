// One WebSocket connection: the supervised fibers around the pure state machine. The connection's own fiber
// is its heartbeat: it lives as long as the socket and closes a silent connection, and one that never
// authenticates. The others exist only while there is work, so an idle connection holds one fiber (memory
// per connection is a scale target): a processor fiber takes frames in order and executes requests, started
// by the frame that finds none running (it runs synchronously up to the first request that waits); a writer
// fiber drains the bounded outbox while the socket is backed up. A defect in any of them closes the
// connection (1011). The scope's finalizer stops them and takes the connection out of every room and of
// presence, whatever ended it (a peer the server gives up on, 4000 or 4001, is taken out at once, before its
// close handshake; the others hear of it after the presence grace, as for any close the user did not ask for).
import { create, fromBinary } from "@bufbuild/protobuf";
import { Cause, type Context, Effect, Fiber } from "effect";
import type { RawData, WebSocket } from "ws";
import { ClientFrameSchema, type ServerFrame, ServerFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { type Config, ServerConfig } from "../config.ts";
import { encode, Hub, type HubCore, type Peer } from "../hub/hub.ts";
import { Metrics, type MetricsShape } from "../metrics.ts";
import { type Authenticated, authOkKind, type ConnectionView, Handlers } from "./handlers.ts";
import { type Input, initialState, type Limits, type SessionState, step, type Action } from "./machine.ts";
import { lowWaterFor, Outbox } from "./outbox.ts";
import { sinkOf, type Wire } from "../transport/wire.ts";

type Execute = Extract<Action, { _tag: "Execute" }>;

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

/** The connection a socket belongs to, for the socket's listeners (plain functions, not closures per socket). */
const OWNER = Symbol("protochat.connection");
type OwnedSocket = WebSocket & { [OWNER]: Connection };
function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
  (this as OwnedSocket)[OWNER].receive(data, isBinary);
}
function onSocketGone(this: WebSocket): void {
  (this as OwnedSocket)[OWNER].socketGone();
}

/**
 * The state of one connection, as fields of one object: a connection that does nothing costs this object, its
 * outbox, and its heartbeat fiber (no closure per callback). It is also what the hub sees (Peer, once
 * authenticated), what the handlers see (ConnectionView) and what the transport keeps (ConnectionHandle).
 */
class Connection implements Peer, ConnectionView, ConnectionHandle {
  readonly id: number;
  readonly ip: string;
  username = "";
  token = "";
  readonly rooms = new Set<string>();
  readonly outbox: Outbox;
  readonly startedAt = Date.now();
  state: SessionState;
  lastSeen = this.startedAt;
  private authenticated = false;
  closeRequested: Extract<Action, { _tag: "Close" }> | undefined;
  socketClosed = false;
  onSocketClosed: (() => void) | undefined;
  private closeDeadline: ReturnType<typeof setTimeout> | undefined;
  // Fibers that exist only while there is work. A fiber may finish while it is being started: only a
  // running one is kept (for the finalizer).
  private writing = false;
  writer: Fiber.Fiber<unknown> | undefined;
  private processing = false;
  processor: Fiber.Fiber<unknown> | undefined;
  // Inbound frames not yet processed, in order.
  private inbox: Input[] = [];
  private inboxHead = 0;
  private paused = false;
  private readonly socket: { pause(): void; resume(): void } | undefined;

  readonly info: ConnectionInfo;
  readonly ws: WebSocket;
  readonly config: Config;
  readonly hub: HubCore;
  readonly handlers: Handlers["Service"];
  readonly metrics: MetricsShape;
  readonly context: Context.Context<never>;
  readonly limits: Limits;

  constructor(
    info: ConnectionInfo,
    ws: WebSocket,
    config: Config,
    hub: HubCore,
    handlers: Handlers["Service"],
    metrics: MetricsShape,
    context: Context.Context<never>,
    limits: Limits,
  ) {
    this.info = info;
    this.ws = ws;
    this.config = config;
    this.hub = hub;
    this.handlers = handlers;
    this.metrics = metrics;
    this.context = context;
    this.limits = limits;
    this.id = info.id;
    this.ip = info.ip;
    this.state = initialState(this.startedAt, limits);
    this.socket = (ws as unknown as { _socket?: { pause(): void; resume(): void } })._socket;
    this.outbox = new Outbox(
      sinkOf(ws),
      { maxBytes: config.outboxBytes, maxFrames: config.outboxFrames, lowWaterBytes: lowWaterFor(config.outboxBytes) },
      () => this.applyNow({ _tag: "SlowConsumer" }),
      () => this.startWriter(),
    );
    (ws as OwnedSocket)[OWNER] = this;
    ws.on("message", onSocketMessage);
    ws.on("close", onSocketGone);
    ws.on("error", onSocketGone);
  }

  get peer(): Peer | undefined {
    return this.authenticated ? this : undefined;
  }

  /** Peer: bytes from the hub (a broadcast's shared buffer). */
  send(bytes: Wire, droppable?: boolean): void {
    this.outbox.push(bytes, droppable);
  }

  /** ConnectionView: queues a frame now, ahead of anything pushed later. */
  sendNow(frame: ServerFrame): void {
    this.outbox.push(encode(frame));
  }

  /** Peer: closed from outside (logout elsewhere, shutdown). */
  terminate(reason: "SessionRevoked" | "Shutdown"): void {
    this.applyNow({ _tag: reason });
  }

  /** ConnectionHandle: the server is shutting down. */
  shutdown(): void {
    this.applyNow({ _tag: "Shutdown" });
  }

  // Called both where the close is decided and by the writer once the queue is flushed: only the call
  // that actually starts the close handshake counts it.
  closeSocket(code: CloseCode, reason: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.metrics.closes.inc({ code: String(code) });
    this.ws.close(code, reason);
  }

  /**
   * Takes the connection out of every room and of presence; safe to repeat. The others see the user leave
   * after the presence grace (a reload or a blip shows nothing), except after a logout (1000) or a revoked
   * session (4104): the user asked to go, so they leave at once.
   */
  leaveEverything(): void {
    const asked = this.closeRequested?.code === CloseCode.NORMAL || this.closeRequested?.code === CloseCode.SESSION_REVOKED;
    if (this.authenticated) this.hub.removePeer(this, this.rooms, !asked);
    this.rooms.clear();
  }

  // The goodbye is bounded: a peer that neither drains the queued replies nor answers the close frame
  // (a stuck reader, a dead network) is cut off after the heartbeat timeout instead of lingering (ws
  // alone waits 30 s for the close handshake, and a blocked outbox never reaches it), so the
  // connection leaves its rooms and presence promptly.
  armCloseDeadline(): void {
    const ws = this.ws;
    this.closeDeadline ??= setTimeout(() => ws.terminate(), this.config.heartbeatTimeoutMs);
  }

  clearCloseDeadline(): void {
    clearTimeout(this.closeDeadline);
  }

  /** A defect in one of the connection's fibers: logged, and the connection closes with 1011. */
  supervised(fiber: Effect.Effect<unknown>): Effect.Effect<unknown> {
    return Effect.catchCause(fiber, (cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.void
        : Effect.logError("connection fiber failed", { cause: String(cause) }).pipe(
            Effect.andThen(
              Effect.sync(() => {
                this.closeSocket(CloseCode.INTERNAL_ERROR, "internal error");
                this.armCloseDeadline();
              }),
            ),
          ),
    );
  }

  /** Starts a fiber at once (it runs synchronously up to its first wait); the finalizer interrupts it. */
  private start(effect: Effect.Effect<unknown>): Fiber.Fiber<unknown> {
    return Effect.runForkWith(this.context)(this.supervised(effect));
  }

  // --- outbound: frames go straight to the socket; a writer fiber exists only while it is backed up ---

  // Started by the first frame that queues, i.e. when the socket is backed up: it waits for the socket to
  // drain first. It ends once the queue is empty (closing the socket if a close waited for the queue).
  private startWriter(): void {
    if (this.writing) return;
    this.writing = true;
    const fiber = this.start(writeBacklog(this));
    if (this.writing) this.writer = fiber;
  }

  writerDone(): void {
    this.writing = false;
    this.writer = undefined;
    if (this.outbox.isClosed && this.closeRequested) this.closeSocket(this.closeRequested.code, this.closeRequested.reason);
  }

  perform(action: Action): void {
    if (action._tag === "Send") {
      if (action.frame.kind.case === "error") this.metrics.errors.inc({ code: String(action.frame.kind.value.code) });
      this.sendNow(action.frame);
    } else if (action._tag === "Close") {
      this.closeRequested = action;
      // A slow consumer's backlog is dropped; otherwise queued replies (e.g. the error that explains the
      // close) go out first and the writer closes after them.
      this.outbox.close(action.code === CloseCode.SLOW_CONSUMER);
      if (this.outbox.pending === 0) this.closeSocket(action.code, action.reason);
      this.armCloseDeadline();
      // A peer that stopped reading (4001) or went silent (4000, e.g. a frozen process) will likely not
      // answer the close either: the others should not wait for the cutoff to see it leave.
      // (After the current synchronous work: an overflow can happen in the middle of the hub's fan-out.)
      if (action.code === CloseCode.HEARTBEAT_TIMEOUT || action.code === CloseCode.SLOW_CONSUMER)
        queueMicrotask(() => this.leaveEverything());
    }
  }

  /** Applies an input that needs no request execution, synchronously (timers, socket events, outside closes). */
  applyNow(input: Input): void {
    const result = step(this.state, input, Date.now(), this.limits);
    this.state = result.state;
    for (const action of result.actions) this.perform(action);
  }

  becomeReady(auth: Authenticated): void {
    this.applyNow({ _tag: "Authenticated", username: auth.username, token: auth.token });
    if (this.state._tag !== "Ready" || this.authenticated) return;
    this.username = auth.username;
    this.token = auth.token;
    this.authenticated = true;
    this.hub.addPeer(this);
    this.info.onAuthenticated();
  }

  // --- inbound: every message counts as liveness; frames queue for the processor in order ---

  receive(data: RawData, isBinary: boolean): void {
    this.lastSeen = Date.now();
    if (this.state._tag === "Closing") return;
    if (!isBinary) {
      this.metrics.frameIn("text");
      return this.applyNow({ _tag: "Text" });
    }
    let input: Input;
    try {
      input = { _tag: "Frame", frame: fromBinary(ClientFrameSchema, toBytes(data)) };
    } catch {
      input = { _tag: "Malformed" };
    }
    this.metrics.frameIn(input._tag === "Frame" ? (input.frame.kind.case ?? "unknown") : "malformed");
    if (this.processing) {
      this.inbox.push(input);
      if (!this.paused && this.inbox.length - this.inboxHead >= INBOX_PAUSE && this.socket) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    // Nothing queued or running: the frame is stepped here, and a fiber is started only for a request to
    // execute (a Ping, a refused or rate-limited frame is answered without one).
    let execute: Execute | undefined;
    try {
      execute = this.stepInput(input);
    } catch (defect) {
      // As in a fiber: a defect is logged and closes the connection (1011).
      this.start(Effect.die(defect));
      return;
    }
    if (execute === undefined) return;
    this.processing = true;
    const fiber = this.start(processInbox(this, execute));
    if (this.processing) this.processor = fiber;
  }

  /**
   * Steps one input and performs its actions, up to a request to execute, which it returns (the machine
   * makes an Execute the only action of its step).
   */
  stepInput(input: Input): Execute | undefined {
    const result = step(this.state, input, Date.now(), this.limits, this.outbox.congested);
    this.state = result.state;
    for (const action of result.actions) {
      if (action._tag === "Execute") return action;
      this.perform(action);
    }
    return undefined;
  }

  /** The next queued input, if any. */
  take(): Input | undefined {
    if (this.inboxHead === this.inbox.length) return undefined;
    const input = this.inbox[this.inboxHead++]!;
    if (this.inboxHead === this.inbox.length) {
      this.inbox.length = 0;
      this.inboxHead = 0;
    }
    if (this.paused && this.inbox.length - this.inboxHead <= INBOX_RESUME) {
      this.paused = false;
      this.socket?.resume();
    }
    return input;
  }

  processorDone(): void {
    this.processing = false;
    this.processor = undefined;
  }

  socketGone(): void {
    this.socketClosed = true;
    this.onSocketClosed?.();
  }
}

// The connection's fibers. Each is made when it starts (a processor per burst of frames, a writer per backlog).

/**
 * Executes `first`, then runs until the inbox is empty, then ends (the next frame starts another): frames are
 * stepped and executed strictly in arrival order, one request at a time.
 */
const processInbox = (c: Connection, first: Execute) =>
  Effect.gen(function* () {
    let action: Execute | undefined = first;
    while (action !== undefined) {
      const started = performance.now();
      const outcome = yield* c.handlers.handle(c, action.id, action.request);
      c.metrics.requestTime(action.request.case, (performance.now() - started) / 1000);
      action = undefined;
      if (c.state._tag !== "Closing") {
        switch (outcome._tag) {
          case "Reply":
            if (outcome.frame.kind.case === "error") c.metrics.errors.inc({ code: String(outcome.frame.kind.value.code) });
            c.sendNow(outcome.frame);
            break;
          case "Sent":
            break;
          case "Authenticated":
            c.sendNow(outcome.frame);
            c.becomeReady(outcome.auth);
            break;
          case "LoggedOut":
            c.sendNow(outcome.frame);
            c.applyNow({ _tag: "LoggedOut" });
            break;
        }
      }
      while (action === undefined) {
        const input = c.take();
        if (input === undefined) break;
        if (c.state._tag !== "Closing") action = c.stepInput(input);
      }
    }
    c.processorDone();
  });

const writeBacklog = (c: Connection) => {
  const drained = Effect.callback<void>((resume) => {
    const cancel = c.outbox.whenDrained(() => resume(Effect.void));
    return Effect.sync(cancel);
  });
  return Effect.gen(function* () {
    do yield* drained;
    while (c.outbox.flush() === "blocked");
    c.writerDone();
  });
};

/** Resumes when the socket has closed, or (with `due`) once `due()` says the heartbeat has something to do. */
const socketClosedOr = (c: Connection, due: (() => number) | undefined) =>
  Effect.callback<void>((resume) => {
    if (c.socketClosed) return resume(Effect.void);
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (due !== undefined) {
      // A connection that keeps talking moves its deadline on with every frame: the timer sleeps again
      // until the new deadline without waking the fiber, which runs only when a deadline has passed.
      const fire = () => {
        const ms = due();
        if (ms > 0) timer = setTimeout(fire, ms);
        else resume(Effect.void);
      };
      const ms = due();
      if (ms <= 0) return resume(Effect.void);
      timer = setTimeout(fire, ms);
    }
    c.onSocketClosed = () => {
      clearTimeout(timer);
      resume(Effect.void);
    };
    return Effect.sync(() => clearTimeout(timer));
  });

/** Milliseconds until the heartbeat must act (a heartbeat timeout, the auth deadline, a close chosen), or <= 0. */
const heartbeatDue = (c: Connection, authDeadlineAt: number): number => {
  if (c.state._tag === "Closing") return 0;
  const now = Date.now();
  const remaining = c.lastSeen + c.config.heartbeatTimeoutMs - now;
  return c.state._tag === "AwaitingAuth" ? Math.min(remaining, authDeadlineAt - now) : remaining;
};

/**
 * The connection's own fiber runs its heartbeat until the socket closes: it closes a connection that goes
 * silent for the heartbeat timeout, or has not authenticated by the auth deadline (counted from the upgrade).
 */
const heartbeat = (c: Connection) =>
  Effect.gen(function* () {
    const authDeadlineAt = c.startedAt + c.config.authTimeoutMs;
    const due = () => heartbeatDue(c, authDeadlineAt);
    while (!c.socketClosed) {
      if (c.state._tag === "Closing") {
        yield* socketClosedOr(c, undefined);
        continue;
      }
      const now = Date.now();
      if (c.state._tag === "AwaitingAuth" && now >= authDeadlineAt) {
        c.applyNow({ _tag: "AuthDeadline" });
        continue;
      }
      const remaining = c.lastSeen + c.config.heartbeatTimeoutMs - now;
      if (remaining <= 0) {
        c.applyNow({ _tag: "HeartbeatTimeout" });
        continue;
      }
      yield* socketClosedOr(c, due);
    }
  });

export const runConnection = (info: ConnectionInfo, register: (handle: ConnectionHandle) => () => void) =>
  Effect.scoped(
    Effect.gen(function* () {
      const config = yield* ServerConfig;
      const c = new Connection(info, info.ws, config, yield* Hub, yield* Handlers, yield* Metrics, yield* Effect.context<never>(), {
        ratePerSec: config.rateLimitPerSec,
        burst: config.rateLimitBurst,
        maxViolations: config.maxViolations,
        maxRateStrikes: config.rateLimitBurst,
      });
      const unregister = register(c);
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          unregister();
          if (c.processor) yield* Fiber.interrupt(c.processor);
          if (c.writer) yield* Fiber.interrupt(c.writer);
          c.clearCloseDeadline();
          c.outbox.close(true);
          c.leaveEverything();
          c.metrics.framesOut.inc(c.outbox.sent);
          c.metrics.framesDropped.inc(c.outbox.dropped);
          c.metrics.outboxPeakBytes.observe(c.outbox.peakBytes);
          if (c.ws.readyState !== c.ws.CLOSED) c.ws.terminate();
        }),
      );

      if (info.preauth) {
        // Authenticated at the upgrade: the first frame announces the session and heartbeat, as a push.
        c.sendNow(create(ServerFrameSchema, { id: 0, kind: authOkKind(info.preauth, config) }));
        c.becomeReady(info.preauth);
      }

      // The connection lives until the socket closes (after a defect in the heartbeat too).
      yield* c.supervised(heartbeat(c));
      yield* socketClosedOr(c, undefined);
    }),
  );
