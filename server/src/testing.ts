// Starts a real server in-process on 127.0.0.1, port 0, with a fresh temp data dir: for tests of the server,
// the SDK and the conformance runner. `close()` shuts it down as SIGTERM would.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Context, Effect, Exit, Layer, References, Scope } from "effect";
import { type AppOptions, appLayer } from "./app.ts";
import { type Config, testConfig } from "./config.ts";
import { loggerLayer, minimumLevel } from "./log.ts";
import { Listening } from "./transport/server.ts";

export interface TestServer {
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly port: number;
  readonly dataDir: string;
  readonly config: Config;
  /** Graceful shutdown (clients get 1001). Keeps the data dir unless it was created here and `keepData` is false. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** `app`: a shared store or in-memory cluster, for tests that run several nodes in one process. */
export const startServer = async (overrides: Partial<Config> = {}, app: Omit<AppOptions, "defaultMetrics"> = {}): Promise<TestServer> => {
  const ownDir = overrides.dataDir === undefined;
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), "protochat-test-"));
  const config = testConfig({ host: "127.0.0.1", port: 0, logLevel: "warn", shutdownGraceMs: 500, ...overrides, dataDir });
  const scope = await Effect.runPromise(Scope.make());
  const build = Layer.buildWithScope(appLayer(config, { ...app, defaultMetrics: false }), scope).pipe(
    Effect.provide(loggerLayer),
    Effect.provideService(References.MinimumLogLevel, minimumLevel(config.logLevel)),
  );
  const context = await Effect.runPromise(build);
  const { port } = Context.get(context, Listening);
  return {
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    httpUrl: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    config,
    close: async (options = {}) => {
      await Effect.runPromise(Scope.close(scope, Exit.void));
      if (ownDir && !options.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
};
