// The server process: parse flags and environment, then run the application layer until SIGINT/SIGTERM,
// which closes its scope (clients are told to reconnect with 1001 and the database is closed).
import { NodeRuntime } from "@effect/platform-node";
import { Cause, Effect, Exit, Layer, References, Runtime } from "effect";
import { appLayer } from "./app.ts";
import { ConfigError, helpText, parseConfig } from "./config.ts";
import { loggerLayer, minimumLevel } from "./log.ts";

let config;
try {
  config = parseConfig(process.argv.slice(2), process.env);
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(2);
}
if (config === "help") {
  process.stdout.write(helpText());
  process.exit(0);
}

/** Exit status when storage cannot commit at start (disk full, I/O errors): EX_TEMPFAIL, "try again later". */
const EXIT_STORAGE_UNAVAILABLE = 75;
let startupExit: number | undefined;

// Storage that cannot commit at start is not worked around: the server would accept users it cannot register
// and messages it cannot store. It exits with one line on stderr, so a supervisor's restart (with backoff)
// brings it up once the operator has freed space; while running, the same trouble only makes it unready.
const cannotStart = (code: number, what: string, cause: unknown) =>
  Effect.sync(() => {
    startupExit = code;
    process.stderr.write(`error: ${what}: ${cause instanceof Error ? cause.message : String(cause)}\n`);
  });

const main = Layer.launch(appLayer(config, { defaultMetrics: true })).pipe(
  Effect.catchTags({
    StorageUnavailable: (e) =>
      cannotStart(
        EXIT_STORAGE_UNAVAILABLE,
        "storage unavailable, not starting (free space, fix the disk or reach the database, then start again)",
        e.cause,
      ),
    StoreError: (e) => cannotStart(1, `storage failed to ${e.operation}, not starting`, e.cause),
  }),
  Effect.provide(loggerLayer),
  Effect.provideService(References.MinimumLogLevel, minimumLevel(config.logLevel)),
);

// SIGINT/SIGTERM interrupt the program and its scope closes gracefully: that is a clean stop (exit 0), not
// the default 130 that process managers would report as a failure. Any other failure keeps its error code.
const teardown: Runtime.Teardown = (exit, onExit) => {
  if (startupExit !== undefined) return onExit(startupExit);
  return Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit);
};

NodeRuntime.runMain(main, { disableErrorReporting: false, teardown });
