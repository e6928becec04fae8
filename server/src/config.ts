// Server configuration: command-line flags, each with an environment variable and a default. `--help`
// prints this table; parseConfig is pure so tests can build configs without a process.
// Kept as one table rather than Effect's `Config` (which reads the environment, not argv) plus `effect/cli`
// (still under `unstable` semantics in 4.1): the table is at once the parser, the environment mapping and the
// --help text, so a flag cannot be documented without being parsed or the other way round.
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { Context } from "effect";
import { parseCidr } from "./transport/client-address.ts";

export interface Config {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  /** postgres://… : run on PostgreSQL (several nodes may share it); empty: SQLite in dataDir. Holds a secret. */
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly authTimeoutMs: number;
  readonly roomGraceMs: number;
  /** A user whose last connection to a room (or anywhere) closed is announced as gone only after this long. */
  readonly presenceGraceMs: number;
  readonly typingTtlMs: number;
  readonly allowedOrigins: ReadonlyArray<string>;
  readonly allowedHosts: ReadonlyArray<string>;
  readonly trustedProxies: ReadonlyArray<string>;
  readonly proxyProtocol: "off" | "on";
  readonly maxConnections: number;
  readonly maxUnauthenticated: number;
  readonly maxUnauthenticatedPerIp: number;
  readonly rateLimitPerSec: number;
  readonly rateLimitBurst: number;
  readonly outboxFrames: number;
  readonly outboxBytes: number;
  readonly recoverLimit: number;
  readonly maxRoomsPerConnection: number;
  readonly maxPersistentRoomsPerUser: number;
  readonly maxViolations: number;
  readonly rooms: ReadonlyArray<string>;
  readonly sessionTtlMs: number;
  readonly registerPerIpPerMin: number;
  readonly loginPerIpPerMin: number;
  readonly loginFailuresPerAccount: number;
  readonly loginFailuresPerAccountIp: number;
  readonly unknownUserHashesPerMin: number;
  readonly registerPerNetworkPerMin: number;
  readonly registerPerMin: number;
  readonly hashConcurrency: number;
  readonly hashQueue: number;
  readonly joinFailuresPerMin: number;
  readonly shutdownGraceMs: number;
  /** Largest file one upload may carry (413 beyond). */
  readonly maxUploadBytes: number;
  /** Uploads one user may start per minute (429 beyond). */
  readonly uploadsPerMin: number;
  /** Bytes one user's uploads may hold in total (413 beyond). */
  readonly uploadQuotaBytes: number;
  /** An upload must be attached within this long; unattached ones are deleted after it. */
  readonly uploadTtlMs: number;
  /** An upload that sends nothing for this long is aborted and leaves nothing behind. */
  readonly uploadIdleMs: number;
  readonly logLevel: "debug" | "info" | "warn" | "error";
  readonly clientDir: string;
  /** redis://… : run as one node of a cluster (Redis bus and presence); "" = embedded (in-process). */
  readonly redisUrl: string;
  /** This node's name on the bus and in presence; unique per running process. */
  readonly nodeId: string;
  readonly gapFillMs: number;
  readonly nodeTtlMs: number;
}

/** The configuration as a service, provided once by main.ts (or testing.ts). */
export class ServerConfig extends Context.Service<ServerConfig, Config>()("protochat/config/ServerConfig") {}

interface FlagSpec {
  readonly key: keyof Config;
  readonly env: string;
  readonly kind: "string" | "int" | "list";
  readonly default: string;
  readonly help: string;
}

const flags: ReadonlyArray<FlagSpec> = [
  { key: "host", env: "HOST", kind: "string", default: "127.0.0.1", help: "address to listen on (0.0.0.0 for every interface)" },
  { key: "port", env: "PORT", kind: "int", default: "8080", help: "HTTP and WebSocket port (0 = any free port)" },
  {
    key: "dataDir",
    env: "DATA_DIR",
    kind: "string",
    default: "./data",
    help: "directory of the SQLite database chat.db and of uploaded files (files/); unused with --database-url",
  },
  {
    key: "databaseUrl",
    env: "DATABASE_URL",
    kind: "string",
    default: "",
    help: "postgres://user:password@host:port/database: store everything in PostgreSQL (shared by every node) instead of SQLite in --data-dir",
  },
  { key: "databasePoolSize", env: "DATABASE_POOL_SIZE", kind: "int", default: "10", help: "most PostgreSQL connections this node opens" },
  { key: "heartbeatIntervalMs", env: "HEARTBEAT_INTERVAL_MS", kind: "int", default: "5000", help: "Ping interval announced to clients" },
  {
    key: "heartbeatTimeoutMs",
    env: "HEARTBEAT_TIMEOUT_MS",
    kind: "int",
    default: "",
    help: "close a connection silent this long, and cut off a peer that leaves a close unanswered this long (default interval x 2 + 1000)",
  },
  {
    key: "authTimeoutMs",
    env: "AUTH_TIMEOUT_MS",
    kind: "int",
    default: "10000",
    help: "deadline for register/login/resume on a new connection",
  },
  { key: "roomGraceMs", env: "ROOM_GRACE_MS", kind: "int", default: "30000", help: "an empty temporary room is destroyed after this long" },
  {
    key: "presenceGraceMs",
    env: "PRESENCE_GRACE_MS",
    kind: "int",
    default: "5000",
    help: "a user whose last connection closed (reload, network blip, timeout) is announced as left / offline only if not back within this long; LeaveRoom and logout are immediate; 0 = at once. At most 600000",
  },
  {
    key: "typingTtlMs",
    env: "TYPING_TTL_MS",
    kind: "int",
    default: "5000",
    help: "a typing indicator expires after this long without refresh",
  },
  {
    key: "allowedOrigins",
    env: "ALLOWED_ORIGINS",
    kind: "list",
    default: "",
    help: "browser Origins allowed to connect, comma-separated; '*' = any. The server's own origin and requests without Origin are always allowed",
  },
  {
    key: "allowedHosts",
    env: "ALLOWED_HOSTS",
    kind: "list",
    default: "",
    help: "Host header values a browser (a request with Origin) may connect through, comma-separated, e.g. chat.example.com; '*' = any. IP literals, localhost and the hosts of --allowed-origins are always allowed (DNS-rebinding protection)",
  },
  {
    key: "trustedProxies",
    env: "TRUSTED_PROXIES",
    kind: "list",
    default: "",
    help: "load balancers allowed to name the client's address, comma-separated IPs or CIDRs (X-Forwarded-For, or the PROXY header with --proxy-protocol on)",
  },
  {
    key: "proxyProtocol",
    env: "PROXY_PROTOCOL",
    kind: "string",
    default: "off",
    help: "off | on: every TCP connection must begin with a PROXY v1/v2 header (HAProxy send-proxy-v2), from a --trusted-proxies peer",
  },
  {
    key: "maxConnections",
    env: "MAX_CONNECTIONS",
    kind: "int",
    default: "20000",
    help: "cap on open WebSocket connections (HTTP 503 beyond)",
  },
  {
    key: "maxUnauthenticated",
    env: "MAX_UNAUTHENTICATED",
    kind: "int",
    default: "1000",
    help: "cap on connections still awaiting auth (HTTP 503 beyond)",
  },
  {
    key: "maxUnauthenticatedPerIp",
    env: "MAX_UNAUTHENTICATED_PER_IP",
    kind: "int",
    default: "20",
    help: "cap on connections awaiting auth from one client address (HTTP 503 beyond)",
  },
  {
    key: "rateLimitPerSec",
    env: "RATE_LIMIT_PER_SEC",
    kind: "int",
    default: "20",
    help: "frames per second per connection (token bucket refill)",
  },
  { key: "rateLimitBurst", env: "RATE_LIMIT_BURST", kind: "int", default: "40", help: "token bucket size per connection" },
  {
    key: "outboxFrames",
    env: "OUTBOX_FRAMES",
    kind: "int",
    default: "1024",
    help: "frames queued for a slow client before it is closed with 4001",
  },
  {
    key: "outboxBytes",
    env: "OUTBOX_BYTES",
    kind: "int",
    default: String(8 * 1024 * 1024),
    help: "bytes held for a slow client (queued frames and socket buffer) before it is closed with 4001; history and recover get RATE_LIMITED while it holds 1/8 of this. Keep above the largest reply (4.3 MB at the defaults)",
  },
  { key: "recoverLimit", env: "RECOVER_LIMIT", kind: "int", default: "1000", help: "most messages one RecoverRequest replays" },
  {
    key: "maxRoomsPerConnection",
    env: "MAX_ROOMS_PER_CONNECTION",
    kind: "int",
    default: "100",
    help: "rooms one connection may have joined",
  },
  {
    key: "maxPersistentRoomsPerUser",
    env: "MAX_PERSISTENT_ROOMS_PER_USER",
    kind: "int",
    default: "10",
    help: "persistent rooms one user may create",
  },
  {
    key: "maxViolations",
    env: "MAX_VIOLATIONS",
    kind: "int",
    default: "5",
    help: "the Nth malformed, id-0 or unknown frame on a connection closes it with 4102",
  },
  {
    key: "rooms",
    env: "ROOMS",
    kind: "list",
    default: "general",
    help: "persistent rooms created at start if missing, comma-separated names",
  },
  { key: "sessionTtlMs", env: "SESSION_TTL_MS", kind: "int", default: String(30 * 24 * 3600 * 1000), help: "session token lifetime" },
  {
    key: "registerPerIpPerMin",
    env: "REGISTER_PER_IP_PER_MIN",
    kind: "int",
    default: "20",
    help: "registrations per client address per minute",
  },
  {
    key: "loginPerIpPerMin",
    env: "LOGIN_PER_IP_PER_MIN",
    kind: "int",
    default: "20",
    help: "login attempts per client address per minute",
  },
  {
    key: "loginFailuresPerAccountIp",
    env: "LOGIN_FAILURES_PER_ACCOUNT_IP",
    kind: "int",
    default: "5",
    help: "failed logins per account from one address per 15 minutes, then one every 15 min / n",
  },
  {
    key: "loginFailuresPerAccount",
    env: "LOGIN_FAILURES_PER_ACCOUNT",
    kind: "int",
    default: "20",
    help: "failed logins per account per 15 minutes from addresses it never logged in from, then a growing delay (up to ~15 min); its known addresses are exempt",
  },
  {
    key: "unknownUserHashesPerMin",
    env: "UNKNOWN_USER_HASHES_PER_MIN",
    kind: "int",
    default: "120",
    help: "logins for unknown users answered after a real hash, per minute overall (beyond: same answer and delay, no hash)",
  },
  {
    key: "registerPerNetworkPerMin",
    env: "REGISTER_PER_NETWORK_PER_MIN",
    kind: "int",
    default: "60",
    help: "registrations per minute per /24 (IPv4) or /64 (IPv6) network",
  },
  {
    key: "registerPerMin",
    env: "REGISTER_PER_MIN",
    kind: "int",
    default: "300",
    help: "registrations per minute overall (cluster-wide with --redis-url)",
  },
  {
    key: "hashConcurrency",
    env: "HASH_CONCURRENCY",
    kind: "int",
    default: "2",
    help: "password hashes (argon2id, ~30 ms of a core each) run at once on this node",
  },
  {
    key: "hashQueue",
    env: "HASH_QUEUE",
    kind: "int",
    default: "32",
    help: "password hashes waiting for a slot; beyond it register/login get RATE_LIMITED at once",
  },
  {
    key: "joinFailuresPerMin",
    env: "JOIN_FAILURES_PER_MIN",
    kind: "int",
    default: "10",
    help: "failed joins by code per user per minute (x3 per address)",
  },
  {
    key: "maxUploadBytes",
    env: "MAX_UPLOAD_BYTES",
    kind: "int",
    default: String(25 * 1024 * 1024),
    help: "largest file POST /v1/uploads accepts, in bytes (HTTP 413 beyond)",
  },
  {
    key: "uploadsPerMin",
    env: "UPLOADS_PER_MIN",
    kind: "int",
    default: "30",
    help: "uploads per user per minute, all nodes together (HTTP 429 beyond)",
  },
  {
    key: "uploadQuotaBytes",
    env: "UPLOAD_QUOTA_BYTES",
    kind: "int",
    default: String(1024 * 1024 * 1024),
    help: "total bytes of one user's stored uploads (HTTP 413 beyond)",
  },
  {
    key: "uploadTtlMs",
    env: "UPLOAD_TTL_MS",
    kind: "int",
    default: "3600000",
    help: "an upload must be attached to a message within this long; unattached uploads are deleted after it",
  },
  {
    key: "uploadIdleMs",
    env: "UPLOAD_IDLE_MS",
    kind: "int",
    default: "15000",
    help: "an upload that sends no bytes for this long is aborted (nothing is kept)",
  },
  {
    key: "shutdownGraceMs",
    env: "SHUTDOWN_GRACE_MS",
    kind: "int",
    default: "2000",
    help: "on SIGTERM/SIGINT, the longest wait for clients to close (ends early when all have gone)",
  },
  { key: "logLevel", env: "LOG_LEVEL", kind: "string", default: "info", help: "debug | info | warn | error" },
  {
    key: "redisUrl",
    env: "REDIS_URL",
    kind: "string",
    default: "",
    help: "redis://host:port: run as one node of a cluster (messages, presence, logout and the login, registration and join throttles shared through Redis 7). Without it, one process",
  },
  {
    key: "nodeId",
    env: "NODE_ID",
    kind: "string",
    default: "",
    help: "this node's name on the bus and in presence, unique per process (default: host-pid-random)",
  },
  {
    key: "gapFillMs",
    env: "GAP_FILL_MS",
    kind: "int",
    default: "250",
    help: "with --redis-url: a room message missing this long is read from the database",
  },
  {
    key: "nodeTtlMs",
    env: "NODE_TTL_MS",
    kind: "int",
    default: "10000",
    help: "with --redis-url: a node that stops refreshing its liveness key this long leaves everyone's presence (within this + 2 s)",
  },
  {
    key: "clientDir",
    env: "CLIENT_DIR",
    kind: "string",
    default: "",
    help: "directory with index.html and dist/chat.js (default: the repo's client/)",
  },
];

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export const helpText = (): string => {
  const rows = flags.map(
    (f) =>
      `  --${kebab(f.key)} <${f.kind === "int" ? "n" : "value"}> `.padEnd(34) +
      `${f.help}\n${"".padEnd(34)}env ${f.env}${f.default ? `, default ${f.default}` : ""}`,
  );
  return `protochat server: the chat protocol over WebSocket at /ws, the web client at /, /livez, /readyz, /healthz
and /metrics. Exits 75 if storage cannot commit at start (disk full), 2 on bad flags.

Usage: npm start -- [flags]    (or: node server/src/main.ts [flags])

Flags (a flag wins over its environment variable):
${rows.join("\n")}
  --help                          print this text
`;
};

export class ConfigError extends Error {}

const isPostgresUrl = (raw: string): boolean => {
  if (!/^postgres(ql)?:\/\//.test(raw)) return false;
  try {
    return new URL(raw).protocol.startsWith("postgres");
  } catch {
    return false;
  }
};

/** Parses flags and environment into a Config. Throws ConfigError with a clear message on bad input. */
export const parseConfig = (argv: ReadonlyArray<string>, env: Record<string, string | undefined>): Config | "help" => {
  const options = Object.fromEntries(flags.map((f) => [kebab(f.key), { type: "string" as const }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError(`${(e as Error).message}\nRun with --help for the list of flags.`);
  }
  if (values.help) return "help";
  const out: Record<string, unknown> = {};
  for (const f of flags) {
    const raw = (values[kebab(f.key)] as string | undefined) ?? env[f.env] ?? f.default;
    if (f.kind === "int") {
      if (raw === "") continue;
      const n = Number(raw);
      if (!Number.isSafeInteger(n) || n < 0)
        throw new ConfigError(`--${kebab(f.key)} (${f.env}) must be a non-negative integer, got "${raw}"`);
      out[f.key] = n;
    } else if (f.kind === "list") {
      out[f.key] = raw
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    } else {
      out[f.key] = raw;
    }
  }
  const interval = out.heartbeatIntervalMs as number;
  out.heartbeatTimeoutMs ??= interval * 2 + 1000;
  if (!["debug", "info", "warn", "error"].includes(out.logLevel as string))
    throw new ConfigError(`--log-level must be debug, info, warn or error`);
  if ((out.port as number) > 65535) throw new ConfigError(`--port must be at most 65535`);
  if (interval < 10) throw new ConfigError(`--heartbeat-interval-ms must be at least 10`);
  if ((out.heartbeatTimeoutMs as number) <= interval) throw new ConfigError(`--heartbeat-timeout-ms must exceed --heartbeat-interval-ms`);
  if ((out.rateLimitPerSec as number) < 1 || (out.rateLimitBurst as number) < 1) throw new ConfigError(`rate limits must be at least 1`);
  for (const k of [
    "registerPerIpPerMin",
    "loginPerIpPerMin",
    "loginFailuresPerAccount",
    "loginFailuresPerAccountIp",
    "unknownUserHashesPerMin",
    "registerPerNetworkPerMin",
    "registerPerMin",
    "hashConcurrency",
    "joinFailuresPerMin",
    "maxUnauthenticatedPerIp",
  ] as const) {
    if ((out[k] as number) < 1) throw new ConfigError(`--${kebab(k)} must be at least 1`);
  }
  if (out.databaseUrl !== "" && !isPostgresUrl(out.databaseUrl as string)) {
    // The URL is not echoed: it may carry a password.
    throw new ConfigError(`--database-url (DATABASE_URL) must be a postgres:// or postgresql:// URL`);
  }
  if ((out.databasePoolSize as number) < 1) throw new ConfigError(`--database-pool-size must be at least 1`);
  if (out.proxyProtocol !== "off" && out.proxyProtocol !== "on")
    throw new ConfigError(`--proxy-protocol must be off or on, got "${String(out.proxyProtocol)}"`);
  for (const entry of out.trustedProxies as string[]) {
    if (parseCidr(entry) === undefined)
      throw new ConfigError(`--trusted-proxies: "${entry}" is not an IP address or CIDR (e.g. 10.0.0.0/8, ::1)`);
  }
  if (out.proxyProtocol === "on" && (out.trustedProxies as string[]).length === 0) {
    throw new ConfigError(`--proxy-protocol on needs --trusted-proxies (the balancers allowed to send the PROXY header)`);
  }
  if ((out.outboxFrames as number) < 8) throw new ConfigError(`--outbox-frames must be at least 8`);
  if ((out.outboxBytes as number) < 1024 * 1024) throw new ConfigError(`--outbox-bytes must be at least 1048576 (1 MiB)`);
  if ((out.presenceGraceMs as number) > 600_000) throw new ConfigError(`--presence-grace-ms must be at most 600000 (10 minutes)`);
  if ((out.gapFillMs as number) < 1) throw new ConfigError(`--gap-fill-ms must be at least 1`);
  if ((out.nodeTtlMs as number) < 300) throw new ConfigError(`--node-ttl-ms must be at least 300`);
  if (out.redisUrl !== "" && !/^rediss?:\/\//.test(out.redisUrl as string))
    throw new ConfigError(`--redis-url must start with redis:// or rediss://`);
  if (out.nodeId === "") out.nodeId = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  if (!/^[\w.-]{1,64}$/.test(out.nodeId as string)) throw new ConfigError(`--node-id must be 1-64 letters, digits, '.', '_' or '-'`);
  if (out.clientDir === "") out.clientDir = new URL("../../client/", import.meta.url).pathname;
  return out as unknown as Config;
};

/**
 * Defaults with overrides, for tests. In-process tests connect every client from 127.0.0.1 (one address, one
 * network), so the admission limits keyed by network or counted overall would make unrelated suites share one
 * budget: they are lifted here, and the tests of those limits set them explicitly. The presence grace is 0
 * (a closed connection leaves at once, as before the grace existed) so suites about other things need not
 * wait for it; the presence tests set it.
 */
export const testConfig = (overrides: Partial<Config> = {}): Config => {
  const base = parseConfig([], {});
  if (base === "help") throw new Error("unreachable");
  return {
    ...base,
    registerPerNetworkPerMin: 1_000_000,
    registerPerMin: 1_000_000,
    unknownUserHashesPerMin: 1_000_000,
    maxUnauthenticatedPerIp: base.maxUnauthenticated,
    presenceGraceMs: 0,
    ...overrides,
  };
};
