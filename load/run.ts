// The load runner: `node load/run.ts <scenario> [options]` (npm run load:smoke, load:fanout, load:rooms,
// load:connections). Starts the chat server as a child process (free port, temp data dir, throttles
// raised), waits for /healthz, runs the scenario against it, stops the server, writes
// artifacts/load-<scenario>.{json,html} and exits 0 when every threshold passed, 99 when one failed
// (k6's code), 1 on an error.
//
// Options: --url ws://host:port/ws   run against a server that is already up (no CPU/RSS sampling)
//          --pin                     server on CPU 0, this generator on CPU 1 (taskset)
//          --cpu-prof                the server writes a V8 CPU profile to artifacts/profiles/
//          --<name> <value>          scenario options (see each file in load/scenarios/)
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { evaluate } from "./src/metrics.ts";
import { collect, textSummary, writeReports } from "./src/report.ts";
import type { Scenario } from "./src/scenario.ts";
import { chatServerArgv, repoRoot, startProcess, wrapCommand } from "./src/server-process.ts";

const scenarios: Record<string, () => Promise<{ scenario: Scenario }>> = {
  smoke: () => import("./scenarios/smoke.ts"),
  fanout: () => import("./scenarios/fanout.ts"),
  rooms: () => import("./scenarios/rooms.ts"),
  connections: () => import("./scenarios/connections.ts"),
  attachments: () => import("./scenarios/attachments.ts"),
};

const main = async (): Promise<number> => {
  const { positionals, values } = parseArgs({ args: process.argv.slice(2), strict: false, allowPositionals: true });
  const name = positionals[0];
  const load = name ? scenarios[name] : undefined;
  if (!load) {
    process.stderr.write(
      `usage: node load/run.ts <${Object.keys(scenarios).join("|")}> [--url ws://…] [--pin] [--cpu-prof] [--option value …]\n`,
    );
    return 2;
  }
  const { scenario } = await load();
  const pin = values.pin === true;

  // Re-run this process pinned to CPU 1 and/or with a raised open-file limit when the scenario asks for it.
  if (!process.env.LOAD_RUNNER_CHILD && (pin || scenario.fileLimit)) {
    const argv = wrapCommand([process.execPath, ...process.argv.slice(1)], { cpus: pin ? "1" : undefined, fileLimit: scenario.fileLimit });
    const r = spawnSync(argv[0]!, argv.slice(1), { stdio: "inherit", env: { ...process.env, LOAD_RUNNER_CHILD: "1" } });
    return r.status ?? 1;
  }

  const args: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === "string") args[k] = v;
  const started = Date.now();
  const external = typeof values.url === "string" ? values.url : undefined;
  const server = external
    ? undefined
    : await startProcess({
        argv: chatServerArgv(
          scenario.serverFlags,
          values["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", join(repoRoot, "artifacts/profiles")] : [],
        ),
        cpus: pin ? "0" : undefined,
        fileLimit: scenario.fileLimit,
        healthPath: "/healthz",
        wsPath: "/ws",
        logFile: join(repoRoot, `artifacts/load-${scenario.name}-server.log`),
      });
  let failed = true;
  try {
    const target = server
      ? { wsUrl: server.wsUrl, httpUrl: server.httpUrl, serverPid: server.pid }
      : { wsUrl: external!, httpUrl: external!.replace(/^ws/, "http").replace(/\/ws$/, ""), serverPid: undefined };
    process.stderr.write(
      `load ${scenario.name}: ${scenario.description}\n  against ${target.wsUrl}${server ? ` (server pid ${server.pid})` : ""}\n`,
    );
    const outcome = await scenario.run(target, args);
    const results = evaluate(outcome.registry, outcome.thresholds, outcome.durationSec);
    const result = collect(scenario.name, outcome.registry, results, outcome.durationSec, outcome.options, outcome.notes, outcome.timeline);
    writeReports(result, join(repoRoot, `artifacts/load-${scenario.name}`));
    process.stdout.write(`${textSummary(result)}\n`);
    process.stdout.write(
      `report: artifacts/load-${scenario.name}.html (and .json); wall time ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    failed = !result.passed;
  } finally {
    // The server exits 130 after a graceful SIGTERM (the Effect runtime reports the interruption).
    const code = await server?.stop();
    if (server && code !== 0 && code !== 130)
      process.stderr.write(`server exited with ${code} (see artifacts/load-${scenario.name}-server.log)\n`);
  }
  return failed ? 99 : 0;
};

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`load run failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
