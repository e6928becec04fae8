// The conformance runner: `npm run conformance -- --url ws://127.0.0.1:8080/ws [options]` runs the cases of
// conformance/cases/ one after another against a server it did not start, prints one line per case, a
// coverage report and a closing `N passed, N failed` line, and exits non-zero when anything failed.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type Case, CaseError, globToRegExp, loadCases, parseReasonList } from "./cases.ts";
import { allKeys, coverageReport, mergeCoverage } from "./coverage.ts";
import { emptyCoverage, runCase } from "./engine.ts";

const here = dirname(fileURLToPath(import.meta.url));
const CONFORMANCE_DIR = join(here, "..");

const USAGE = `Usage: npm run conformance -- --url ws://HOST:PORT/ws [options]

  --url URL              WebSocket endpoint of the server under test (required). Repeatable for the nodes of
                         one cluster: a case's k-th client (by first connect) uses URL k mod n
  --http URL             its HTTP base URL (default: derived from the first --url, e.g. http://HOST:PORT)
  --run GLOB             run only cases whose name matches (repeatable; * matches anything, ? one character)
  --skip GLOB            skip cases whose name matches (repeatable)
  --known-failing FILE   cases expected to fail, one "name  # reason" per line
  --untestable FILE      kinds/codes no black-box case can exercise (default conformance/untestable.txt);
                         repeatable, the lists are merged
  --timeout-scale N      multiply every expectation timeout by N (slow machines; default 1)
  --cases DIR            directory of *.yaml cases (default conformance/cases)
  --shutdown-command CMD shell command that stops the server gracefully (e.g. "kill -TERM 1234"); enables
                         the cases that require it, which run last
  --list                 print the case names and exit
  --help                 this text
`;

const die = (message: string): never => {
  process.stderr.write(`conformance: ${message}\n`);
  process.exit(2);
};

const readList = (file: string): Map<string, string> => {
  try {
    return parseReasonList(readFileSync(file, "utf8"), file);
  } catch (e) {
    return die((e as Error).message);
  }
};

const main = async () => {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        url: { type: "string", multiple: true },
        http: { type: "string" },
        run: { type: "string", multiple: true },
        skip: { type: "string", multiple: true },
        "known-failing": { type: "string" },
        untestable: { type: "string", multiple: true },
        "timeout-scale": { type: "string" },
        cases: { type: "string" },
        "shutdown-command": { type: "string" },
        list: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    }));
  } catch (e) {
    return die(`${(e as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  let cases: Case[];
  try {
    cases = loadCases(values.cases ?? join(CONFORMANCE_DIR, "cases"));
  } catch (e) {
    if (e instanceof CaseError) return die(e.message);
    throw e;
  }
  const indexOf = new Map(cases.map((c, i) => [c.name, i]));
  const runGlobs = (values.run ?? [])
    .flatMap((g) => g.split(","))
    .filter(Boolean)
    .map(globToRegExp);
  const skipGlobs = (values.skip ?? [])
    .flatMap((g) => g.split(","))
    .filter(Boolean)
    .map(globToRegExp);
  const filtered = runGlobs.length > 0 || skipGlobs.length > 0;
  let selected = cases.filter(
    (c) => (runGlobs.length === 0 || runGlobs.some((r) => r.test(c.name))) && !skipGlobs.some((r) => r.test(c.name)),
  );
  if (values.list) {
    for (const c of selected) process.stdout.write(`${c.name}${c.description ? `  — ${c.description.split("\n")[0]}` : ""}\n`);
    return 0;
  }
  const wsUrls = values.url ?? [];
  if (wsUrls.length === 0) return die(`--url is required\n${USAGE}`);
  for (const u of wsUrls)
    if (!URL.canParse(u) || !/^wss?:$/.test(new URL(u).protocol)) die(`--url must be a ws:// or wss:// URL, got "${u}"`);
  const wsUrl = wsUrls[0]!;
  let httpUrl = values.http;
  if (httpUrl === undefined) {
    const u = new URL(wsUrl);
    httpUrl = `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
  }
  const timeoutScale = values["timeout-scale"] === undefined ? 1 : Number(values["timeout-scale"]);
  if (!(timeoutScale > 0)) return die("--timeout-scale must be a positive number");

  const known = values["known-failing"] === undefined ? new Map<string, string>() : readList(values["known-failing"]);
  for (const name of known.keys()) if (!indexOf.has(name)) die(`${values["known-failing"]}: no case is named "${name}"`);
  const untestableFiles = values.untestable ?? [join(CONFORMANCE_DIR, "untestable.txt")];
  const untestableFile = untestableFiles.join(", ");
  const untestable = new Map<string, string>();
  const keys = allKeys();
  for (const file of untestableFiles) {
    for (const [key, reason] of readList(file)) {
      if (!keys.has(key)) die(`${file}: "${key}" is not a frame kind or code of the contract`);
      untestable.set(key, reason);
    }
  }

  const shutdownCommand = values["shutdown-command"];
  const needsShutdown = selected.filter((c) => c.requires.includes("shutdown"));
  if (needsShutdown.length > 1) die(`only one selected case may require shutdown: ${needsShutdown.map((c) => c.name).join(", ")}`);
  // The server is gone after a shutdown case, so it runs last.
  selected = [...selected.filter((c) => !c.requires.includes("shutdown")), ...needsShutdown];

  const runId = randomBytes(4).readUInt32BE().toString(36).slice(0, 5).padStart(5, "0");
  const shutdown = shutdownCommand
    ? () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn("sh", ["-c", shutdownCommand], { stdio: "inherit" });
          child.on("error", reject);
          child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`--shutdown-command exited with ${code}`))));
        })
    : undefined;

  process.stdout.write(
    `conformance: ${selected.length} cases against ${wsUrls.join(", ")}${wsUrls.length > 1 ? " (client k of a case on URL k mod n)" : ""} (run ${runId})\n`,
  );
  const total = emptyCoverage();
  let passed = 0;
  let failed = 0;
  let knownFailing = 0;
  let skipped = 0;
  for (const kase of selected) {
    if (kase.requires.includes("shutdown") && !shutdown) {
      skipped++;
      process.stdout.write(`skip ${kase.name}: needs --shutdown-command\n`);
      continue;
    }
    const result = await runCase(kase, {
      wsUrl,
      wsUrls,
      httpUrl,
      timeoutScale,
      runId,
      caseIndex: indexOf.get(kase.name)!,
      ...(shutdown ? { shutdown } : {}),
    });
    const reason = known.get(kase.name);
    const ms = `(${result.durationMs} ms)`;
    if (result.ok) mergeCoverage(total, result.coverage);
    if (result.ok && reason === undefined) {
      passed++;
      process.stdout.write(`ok   ${kase.name} ${ms}\n`);
    } else if (result.ok) {
      failed++;
      process.stdout.write(`FAIL ${kase.name} ${ms}: listed as known failing ("${reason}") but passed: fixed? remove it from the list\n`);
    } else if (reason !== undefined) {
      knownFailing++;
      process.stdout.write(`known-fail ${kase.name} ${ms}: ${result.error}\n           known: ${reason}\n`);
    } else {
      failed++;
      process.stdout.write(`FAIL ${kase.name} ${ms}: ${result.error}\n`);
    }
  }

  const report = coverageReport(total, untestable);
  process.stdout.write(`\n${report.lines.join("\n")}\n`);
  if (report.missing.length > 0) {
    if (filtered) process.stdout.write(`(coverage not enforced: --run/--skip selected a subset)\n`);
    else {
      failed++;
      process.stdout.write(
        `FAIL coverage: ${report.missing.join(", ")} neither exercised by a passing case nor listed in ${untestableFile}: add a case, or list the key with a reason\n`,
      );
    }
  }
  const extra = [knownFailing > 0 ? `${knownFailing} known failing` : "", skipped > 0 ? `${skipped} skipped` : ""].filter(Boolean);
  if (extra.length > 0) process.stdout.write(`(${extra.join(", ")})\n`);
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed > 0 ? 1 : 0;
};

process.exitCode = await main();
