// Loading conformance cases: YAML files of conformance/cases/, each a list of cases (or `cases:` holding
// one). Every step is checked here, before anything runs, so a typo in a case fails the load with its file,
// case and step instead of failing one run in an obscure way.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { MatcherError, validateMatcher } from "./match.ts";

export type Params = Record<string, unknown>;

export interface Step {
  readonly action: Action;
  readonly params: Params;
  /** "file.yaml: case > step N (action)", for messages. */
  readonly where: string;
}

export interface Case {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  /** Features the runner must be given, e.g. "shutdown" (--shutdown-command). */
  readonly requires: ReadonlyArray<string>;
  /** Wall-clock limit for the whole case. */
  readonly timeoutMs: number;
  readonly steps: ReadonlyArray<Step>;
}

export class CaseError extends Error {}

/** Each action's parameters; `*` marks the required ones. A scalar step value fills `shorthand`. */
const ACTIONS = {
  connect: { shorthand: "client", params: ["*client", "token", "token_in", "origin", "path", "status", "headers"] },
  send: { shorthand: undefined, params: ["*client", "*frame", "id", "label"] },
  send_raw: { shorthand: undefined, params: ["*client", "hex", "base64", "text", "size", "frame", "id", "truncate", "ws_ping"] },
  expect: { shorthand: undefined, params: ["*client", "frame", "reply_to", "id", "push", "next", "timeout_ms"] },
  expect_none: { shorthand: undefined, params: ["*client", "frame", "reply_to", "push", "*within_ms"] },
  expect_close: { shorthand: undefined, params: ["*client", "code", "timeout_ms"] },
  expect_open: { shorthand: "client", params: ["*client"] },
  collect: { shorthand: undefined, params: ["*client", "*frame", "*count", "pick", "*save", "timeout_ms"] },
  assert: { shorthand: undefined, params: ["equal", "value", "match", "sorted", "by"] },
  wait: { shorthand: "ms", params: ["*ms"] },
  disconnect: { shorthand: "client", params: ["*client", "abort"] },
  pause: { shorthand: "client", params: ["*client"] },
  resume: { shorthand: "client", params: ["*client"] },
  http: { shorthand: undefined, params: ["*path", "method", "status", "body_contains", "body_not_contains", "headers", "origin"] },
  set: { shorthand: undefined, params: [] },
  group: { shorthand: undefined, params: ["*steps"] },
  shutdown: { shorthand: undefined, params: [] },
} as const;

export type Action = keyof typeof ACTIONS;

export const NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*(?:\/[a-z0-9]+(?:-[a-z0-9]+)*)+$/;
const DEFAULT_CASE_TIMEOUT_MS = 60_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const parseStep = (raw: unknown, where: string): Step => {
  if (!isObject(raw) || Object.keys(raw).length !== 1) throw new CaseError(`${where}: a step is a mapping with exactly one action key (${Object.keys(ACTIONS).join(", ")})`);
  const [action, value] = Object.entries(raw)[0]!;
  if (!Object.hasOwn(ACTIONS, action)) throw new CaseError(`${where}: unknown action "${action}"`);
  const spec = ACTIONS[action as Action];
  const w = `${where} (${action})`;
  let params: Params;
  if (isObject(value)) params = value;
  else if (value === null || value === undefined) params = {};
  else if (spec.shorthand !== undefined) params = { [spec.shorthand]: value };
  else throw new CaseError(`${w}: expected a mapping of parameters`);
  if (action !== "set") {
    // Every action but set and shutdown may repeat (see engine.ts).
    const known = new Set<string>([...spec.params.map((p) => p.replace("*", "")), ...(action === "shutdown" ? [] : ["repeat", "interval_ms"])]);
    for (const k of Object.keys(params)) if (!known.has(k)) throw new CaseError(`${w}: unknown parameter "${k}" (known: ${[...known].join(", ")})`);
    for (const p of spec.params) if (p.startsWith("*") && params[p.slice(1)] === undefined) throw new CaseError(`${w}: "${p.slice(1)}" is required`);
  }
  if (action === "group") {
    if (!Array.isArray(params.steps) || params.steps.length === 0) throw new CaseError(`${w}: steps must be a non-empty list`);
    params = { ...params, steps: params.steps.map((s, i) => parseStep(s, `${where} > ${i + 1}`)) };
  }
  if (action === "send_raw") {
    const sources = ["hex", "base64", "text", "size", "frame", "ws_ping"].filter((k) => params[k] !== undefined);
    if (sources.length !== 1) throw new CaseError(`${w}: give exactly one of hex, base64, text, size, frame, ws_ping`);
    if (params.truncate !== undefined && params.frame === undefined) throw new CaseError(`${w}: truncate goes with frame`);
  }
  if (action === "assert" && params.equal === undefined && params.match === undefined && params.sorted === undefined) {
    throw new CaseError(`${w}: give "equal: [a, b, ...]", "value" and "match", or "sorted: list"`);
  }
  if (action === "expect" && params.frame === undefined && params.reply_to === undefined && params.id === undefined && params.push === undefined) {
    throw new CaseError(`${w}: give at least one of frame, reply_to, id, push`);
  }
  for (const k of ["frame", "match", "code"] as const) {
    if (params[k] !== undefined && action !== "send" && action !== "send_raw") {
      try {
        validateMatcher(params[k]);
      } catch (e) {
        if (e instanceof MatcherError || e instanceof SyntaxError) throw new CaseError(`${w}: ${e.message}`);
        throw e;
      }
    }
  }
  return { action: action as Action, params, where: w };
};

const parseCase = (raw: unknown, file: string, index: number): Case => {
  const at = `${file}: case #${index + 1}`;
  if (!isObject(raw)) throw new CaseError(`${at}: a case is a mapping with name and steps`);
  const known = new Set(["name", "description", "requires", "timeout_ms", "steps", "clients"]);
  for (const k of Object.keys(raw)) if (!known.has(k)) throw new CaseError(`${at}: unknown key "${k}"`);
  const name = raw.name;
  if (typeof name !== "string" || !NAME_PATTERN.test(name)) throw new CaseError(`${at}: name must be a kebab-case path like "auth/bad-password", got ${JSON.stringify(name)}`);
  if (!Array.isArray(raw.steps) || raw.steps.length === 0) throw new CaseError(`${file}: ${name}: steps must be a non-empty list`);
  const requires = raw.requires === undefined ? [] : raw.requires;
  if (!Array.isArray(requires) || !requires.every((r) => r === "shutdown")) throw new CaseError(`${file}: ${name}: requires may only list "shutdown"`);
  const steps = raw.steps.map((s, i) => parseStep(s, `${file}: ${name} > step ${i + 1}`));
  const flat = (list: ReadonlyArray<Step>): Step[] => list.flatMap((s) => (s.action === "group" ? [s, ...flat(s.params.steps as Step[])] : [s]));
  if (flat(steps).some((s) => s.action === "shutdown") && !requires.includes("shutdown")) throw new CaseError(`${file}: ${name}: a shutdown step needs "requires: [shutdown]"`);
  return {
    name,
    description: typeof raw.description === "string" ? raw.description.trim() : "",
    file,
    requires: requires as string[],
    timeoutMs: typeof raw.timeout_ms === "number" ? raw.timeout_ms : DEFAULT_CASE_TIMEOUT_MS,
    steps,
  };
};

/** Parses one YAML file's text into cases. */
export const parseCases = (text: string, file: string): Case[] => {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new CaseError(`${file}: ${(e as Error).message}`);
  }
  const list = isObject(doc) && Array.isArray(doc.cases) ? doc.cases : doc;
  if (!Array.isArray(list)) throw new CaseError(`${file}: expected a list of cases (or "cases:" holding one)`);
  return list.map((c, i) => parseCase(c, file, i));
};

/** Loads every *.yaml file of `dir`, in name order; case names must be unique. */
export const loadCases = (dir: string): Case[] => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml") || f.endsWith(".yml")).sort();
  const cases = files.flatMap((f) => parseCases(readFileSync(join(dir, f), "utf8"), f));
  const seen = new Map<string, string>();
  for (const c of cases) {
    const other = seen.get(c.name);
    if (other) throw new CaseError(`case ${c.name} is defined twice (${other} and ${c.file})`);
    seen.set(c.name, c.file);
  }
  return cases;
};

/** Glob over case names: `*` any run of characters (slashes included), `?` one character. */
export const globToRegExp = (glob: string): RegExp =>
  new RegExp(`^${glob.split("").map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&"))).join("")}$`);

/** A named list file: one `name  # reason` per line; blank lines and lines starting with # are ignored. */
export const parseReasonList = (text: string, file: string): Map<string, string> => {
  const out = new Map<string, string>();
  text.split("\n").forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    const m = /^(\S+)\s+#\s*(\S.*)$/.exec(t);
    if (!m) throw new CaseError(`${file}:${i + 1}: expected "name  # reason", got ${JSON.stringify(t)}`);
    out.set(m[1]!, m[2]!.trim());
  });
  return out;
};
