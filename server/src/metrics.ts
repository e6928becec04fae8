// Prometheus metrics for /metrics. One registry per server instance (tests run several in one process).
import { Context, Layer } from "effect";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Memoizes `make` per label value. */
const boundOnce = <C>(make: (label: string) => C): ((label: string) => C) => {
  const children = new Map<string, C>();
  return (label) => {
    let child = children.get(label);
    if (child === undefined) children.set(label, (child = make(label)));
    return child;
  };
};

export const makeMetrics = (options: { defaultMetrics: boolean }) => {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const r = { registers: [registry] };
  // Frames are counted in plain numbers and handed to prom-client when /metrics is read: a labelled inc,
  // even through a bound child, hashes and validates its label object on every call. The kinds are the
  // ClientFrame cases plus "text", "malformed" and "unknown", so the map stays small.
  const framesInPending = new Map<string, number>();
  const framesIn = new Counter({
    name: "chat_frames_in_total",
    help: "Client frames received",
    labelNames: ["kind"] as const,
    ...r,
    collect() {
      for (const [kind, n] of framesInPending) if (n > 0) this.inc({ kind }, n);
      framesInPending.clear();
    },
  });
  const requestSeconds = new Histogram({
    name: "chat_request_seconds",
    help: "Time to handle a request, by kind",
    labelNames: ["kind"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    ...r,
  });
  // Request times go through children bound once per label value (an unbound observe also builds the
  // label object).
  const requestSecondsByKind = boundOnce((kind) => requestSeconds.labels(kind));
  return {
    registry,
    connections: new Gauge({ name: "chat_connections", help: "Open WebSocket connections", labelNames: ["state"] as const, ...r }),
    connectionsTotal: new Counter({ name: "chat_connections_total", help: "WebSocket connections accepted", ...r }),
    upgradesRejected: new Counter({
      name: "chat_upgrades_rejected_total",
      help: "HTTP upgrades refused",
      labelNames: ["status"] as const,
      ...r,
    }),
    closes: new Counter({
      name: "chat_closes_total",
      help: "Connections closed by the server, by close code",
      labelNames: ["code"] as const,
      ...r,
    }),
    /** chat_frames_in_total; count frames through frameIn (it is brought up to date when /metrics is read). */
    framesIn,
    /** Counts one client frame of `kind`. */
    frameIn: (kind: string): void => {
      framesInPending.set(kind, (framesInPending.get(kind) ?? 0) + 1);
    },
    framesOut: new Counter({ name: "chat_frames_out_total", help: "Server frames handed to sockets", ...r }),
    framesDropped: new Counter({ name: "chat_frames_dropped_total", help: "Droppable frames (typing) shed for slow clients", ...r }),
    outboxPeakBytes: new Histogram({
      name: "chat_outbox_peak_bytes",
      help: "The most bytes each closed connection's outbox held (queued frames and socket buffer; bounded by --outbox-bytes)",
      buckets: [65536, 262144, 1048576, 2097152, 4194304, 8388608, 16777216, 67108864],
      ...r,
    }),
    errors: new Counter({ name: "chat_errors_total", help: "Error replies, by code", labelNames: ["code"] as const, ...r }),
    messagesStored: new Counter({
      name: "chat_messages_stored_total",
      help: "Room and direct messages stored",
      labelNames: ["kind"] as const,
      ...r,
    }),
    /** Records how long a request of `kind` took. */
    requestTime: (kind: string, seconds: number): void => requestSecondsByKind(kind).observe(seconds),
  };
};

export type MetricsShape = ReturnType<typeof makeMetrics>;

export class Metrics extends Context.Service<Metrics, MetricsShape>()("protochat/metrics/Metrics") {
  static readonly layer = (options: { defaultMetrics: boolean }) => Layer.sync(Metrics, () => makeMetrics(options));
}
