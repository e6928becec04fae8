// Flags and environment: defaults, precedence, derived heartbeat timeout, and clear errors on bad input.
import { describe, expect, it } from "vitest";
import { ConfigError, helpText, parseConfig, testConfig } from "./config.ts";
import { originAllowed } from "./transport/server.ts";

describe("parseConfig", () => {
  it("has the documented defaults", () => {
    const c = parseConfig([], {});
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 8080,
      dataDir: "./data",
      heartbeatIntervalMs: 5000,
      heartbeatTimeoutMs: 11000,
      rooms: ["general"],
    });
  });

  it("a flag wins over its environment variable, which wins over the default", () => {
    expect(parseConfig(["--port", "9001"], { PORT: "9002" })).toMatchObject({ port: 9001 });
    expect(parseConfig([], { PORT: "9002", DATA_DIR: "/x" })).toMatchObject({ port: 9002, dataDir: "/x" });
  });

  it("derives the heartbeat timeout from the interval (interval x 2 + 1 s) unless given", () => {
    expect(parseConfig(["--heartbeat-interval-ms", "100"], {})).toMatchObject({ heartbeatTimeoutMs: 1200 });
    expect(parseConfig(["--heartbeat-interval-ms", "100", "--heartbeat-timeout-ms", "300"], {})).toMatchObject({ heartbeatTimeoutMs: 300 });
  });

  it("splits lists and trims them", () => {
    expect(parseConfig(["--allowed-origins", " https://a.example , https://b.example,"], {})).toMatchObject({
      allowedOrigins: ["https://a.example", "https://b.example"],
    });
  });

  it("rejects unknown flags and bad numbers with a clear message", () => {
    expect(() => parseConfig(["--nope"], {})).toThrow(ConfigError);
    expect(() => parseConfig([], { PORT: "80a" })).toThrow(/--port \(PORT\) must be a non-negative integer/);
    expect(() => parseConfig(["--heartbeat-interval-ms", "1000", "--heartbeat-timeout-ms", "500"], {})).toThrow(/must exceed/);
  });

  it("takes a PostgreSQL URL from --database-url or DATABASE_URL, and rejects anything else without echoing it", () => {
    expect(parseConfig([], {})).toMatchObject({ databaseUrl: "", databasePoolSize: 10 });
    const url = "postgres://chat:s3cret@db.internal:5432/chat";
    expect(parseConfig([], { DATABASE_URL: url, DATABASE_POOL_SIZE: "20" })).toMatchObject({ databaseUrl: url, databasePoolSize: 20 });
    expect(parseConfig(["--database-url", "postgresql://localhost/chat"], { DATABASE_URL: url })).toMatchObject({
      databaseUrl: "postgresql://localhost/chat",
    });
    expect(() => parseConfig([], { DATABASE_URL: "mysql://u:s3cret@h/db" })).toThrow(/must be a postgres:\/\/ or postgresql:\/\/ URL$/);
    expect(() => parseConfig([], { DATABASE_URL: "postgres://u:s3cret@[bad/db" })).toThrow(ConfigError);
    expect(() => parseConfig(["--database-pool-size", "0"], {})).toThrow(/at least 1/);
  });

  it("--outbox-bytes: 8 MiB by default, from the flag or OUTBOX_BYTES, at least 1 MiB", () => {
    expect(parseConfig([], {})).toMatchObject({ outboxBytes: 8 * 1024 * 1024, outboxFrames: 1024 });
    expect(parseConfig([], { OUTBOX_BYTES: "2097152" })).toMatchObject({ outboxBytes: 2097152 });
    expect(parseConfig(["--outbox-bytes", "4194304"], { OUTBOX_BYTES: "2097152" })).toMatchObject({ outboxBytes: 4194304 });
    expect(() => parseConfig(["--outbox-bytes", "65536"], {})).toThrow(/--outbox-bytes must be at least 1048576/);
    expect(helpText()).toMatch(/--outbox-bytes <n>[\s\S]*env OUTBOX_BYTES, default 8388608/);
  });

  it("admission and proxy flags: defaults, and clear errors for what cannot work", () => {
    expect(parseConfig([], {})).toMatchObject({
      proxyProtocol: "off",
      trustedProxies: [],
      allowedHosts: [],
      maxUnauthenticatedPerIp: 20,
      hashConcurrency: 2,
      hashQueue: 32,
      redisUrl: "",
    });
    expect(parseConfig([], { TRUSTED_PROXIES: "10.0.0.0/8, ::1", PROXY_PROTOCOL: "on" })).toMatchObject({
      trustedProxies: ["10.0.0.0/8", "::1"],
      proxyProtocol: "on",
    });
    expect(() => parseConfig(["--trusted-proxies", "balancer.local"], {})).toThrow(
      /--trusted-proxies: "balancer.local" is not an IP address or CIDR/,
    );
    expect(() => parseConfig(["--proxy-protocol", "v2"], {})).toThrow(/--proxy-protocol must be off or on/);
    expect(() => parseConfig(["--proxy-protocol", "on"], {})).toThrow(/needs --trusted-proxies/);
    expect(() => parseConfig(["--redis-url", "localhost:6379"], {})).toThrow(/--redis-url must start with redis:\/\//);
    expect(() => parseConfig(["--hash-concurrency", "0"], {})).toThrow(/--hash-concurrency must be at least 1/);
  });

  it("--presence-grace-ms: 5 s by default, 0 allowed (at once), at most 10 minutes; lifted to 0 in testConfig", () => {
    expect(parseConfig([], {})).toMatchObject({ presenceGraceMs: 5000 });
    expect(parseConfig([], { PRESENCE_GRACE_MS: "0" })).toMatchObject({ presenceGraceMs: 0 });
    expect(() => parseConfig(["--presence-grace-ms", "600001"], {})).toThrow("--presence-grace-ms must be at most 600000");
    expect(() => parseConfig(["--presence-grace-ms", "-1"], {})).toThrow(ConfigError);
    expect(testConfig().presenceGraceMs).toBe(0);
  });

  it("--help is answered, and the help text names every flag with its variable", () => {
    expect(parseConfig(["--help"], {})).toBe("help");
    expect(helpText()).toMatch(/--data-dir <value>[\s\S]*env DATA_DIR, default \.\/data/);
  });
});

describe("originAllowed", () => {
  it("allows no Origin (non-browser clients), the server's own origin and the allowlist; refuses others", () => {
    expect(originAllowed(undefined, "chat.example:8080", [])).toBe(true);
    expect(originAllowed("http://chat.example:8080", "chat.example:8080", [])).toBe(true);
    expect(originAllowed("https://good.example", "chat.example:8080", ["https://good.example"])).toBe(true);
    expect(originAllowed("https://evil.example", "chat.example:8080", ["https://good.example"])).toBe(false);
    expect(originAllowed("null", "chat.example:8080", [])).toBe(false);
    expect(originAllowed("https://any.example", "chat.example:8080", ["*"])).toBe(true);
  });
});
