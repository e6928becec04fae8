// Loading conformance cases: YAML files of conformance/cases/, each a list of cases (or `cases:` holding
// one). Every case is decoded with the schema of case-schema.ts before anything runs, so a typo fails the load
// with its file, case, step and field instead of failing one run in an obscure way.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Result, Schema, SchemaIssue } from "effect";
import { parse } from "yaml";
import {
  type Case,
  CaseHeader,
  DEFAULT_CASE_TIMEOUT_MS,
  isKind,
  isObject,
  type LeafKind,
  type LeafStep,
  type Params,
  KINDS,
  SHORTHAND,
  type Step,
  StepSchemas,
} from "./case-schema.ts";

export type { Case, Step } from "./case-schema.ts";
export { NAME_PATTERN } from "./case-schema.ts";

export class CaseError extends Error {}

/** Schema issues as "field: message" texts; unknown and missing keys in the words a case author expects. */
const formatIssues = (issue: SchemaIssue.Issue, known: ReadonlyArray<string>, noun: string): string => {
  // Missing and unexpected keys are marked here and reworded below, where their field is known.
  const formatter = SchemaIssue.makeFormatterStandardSchemaV1({
    leafHook: (leaf) =>
      leaf._tag === "MissingKey" ? "\0missing" : leaf._tag === "UnexpectedKey" ? "\0unknown" : SchemaIssue.defaultLeafHook(leaf),
  });
  const seen = new Set<string>();
  for (const { path, message } of formatter(issue).issues) {
    const keys = (path ?? []).map((p) => (typeof p === "object" ? p.key : p));
    const field = keys.map((k, i) => (typeof k === "number" ? `[${k}]` : `${i > 0 ? "." : ""}${String(k)}`)).join("");
    if (message === "\0missing") seen.add(`"${field}" is required`);
    else if (message === "\0unknown")
      seen.add(`unknown ${noun} "${field}"${keys.length === 1 && known.length > 0 ? ` (known: ${known.join(", ")})` : ""}`);
    else seen.add(field === "" ? message : `${field}: ${message}`);
  }
  return [...seen].join("; ");
};

/** Decodes `value` with `schema` or fails with `where` and the schema's complaints. */
const decode = <S extends Schema.ConstraintDecoder<unknown>>(
  schema: S,
  value: unknown,
  where: string,
  known: ReadonlyArray<string> = [],
  noun = "parameter",
): S["Type"] => {
  const r = Schema.decodeUnknownResult(schema)(value, { onExcessProperty: "error", errors: "all" });
  if (Result.isFailure(r)) throw new CaseError(`${where}: ${formatIssues(r.failure.issue, known, noun)}`);
  return r.success;
};

const fieldsOf = (schema: { readonly fields: object }): ReadonlyArray<string> => Object.keys(schema.fields);

/** A step's repeat options (set and shutdown have none: their schemas refuse the keys). */
const repeatOf = (p: { readonly repeat?: string | number; readonly interval_ms?: string | number }) => ({
  ...(p.repeat !== undefined ? { repeat: p.repeat } : {}),
  ...(p.interval_ms !== undefined ? { intervalMs: p.interval_ms } : {}),
});

/** Decodes a step of kind K; its parameters keep their kind's own type. */
const leafStep = <K extends LeafKind>(kind: K, value: unknown, where: string): LeafStep<K> => {
  const schema = StepSchemas[kind];
  const params: Params<K> = decode(schema, value, where, "fields" in schema ? fieldsOf(schema) : []);
  return { kind, params, where, ...repeatOf(params) };
};

/** A step is a mapping with one key, its kind; a scalar value fills the kind's shorthand parameter. */
const parseStep = (raw: unknown, at: string): Step => {
  if (!isObject(raw) || Object.keys(raw).length !== 1)
    throw new CaseError(`${at}: a step is a mapping with exactly one action key (${KINDS.join(", ")})`);
  const [kind, value] = Object.entries(raw)[0]!;
  if (!isKind(kind)) throw new CaseError(`${at}: unknown action "${kind}" (known: ${KINDS.join(", ")})`);
  const where = `${at} (${kind})`;
  const shorthand = SHORTHAND[kind];
  let params: unknown = value;
  if (value === null || value === undefined) params = {};
  else if (!isObject(value)) {
    if (shorthand === undefined) throw new CaseError(`${where}: expected a mapping of parameters`);
    params = { [shorthand]: value };
  }
  if (kind !== "group") return leafStep(kind, params, where);
  const group = decode(StepSchemas.group, params, where, fieldsOf(StepSchemas.group));
  return { kind, steps: group.steps.map((s, i) => parseStep(s, `${at} > ${i + 1}`)), where, ...repeatOf(group) };
};

const flatten = (list: ReadonlyArray<Step>): Step[] => list.flatMap((s) => (s.kind === "group" ? [s, ...flatten(s.steps)] : [s]));

const parseCase = (raw: unknown, file: string, index: number): Case => {
  const at = `${file}: case #${index + 1}`;
  if (!isObject(raw)) throw new CaseError(`${at}: a case is a mapping with name and steps`);
  // The name first, so every later message can carry it.
  const named = typeof raw.name === "string" ? `${file}: ${raw.name}` : at;
  const header = decode(CaseHeader, raw, named, fieldsOf(CaseHeader), "key");
  const where = `${file}: ${header.name}`;
  const steps = header.steps.map((s, i) => parseStep(s, `${where} > step ${i + 1}`));
  const requires = header.requires ?? [];
  if (flatten(steps).some((s) => s.kind === "shutdown") && !requires.includes("shutdown"))
    throw new CaseError(`${where}: a shutdown step needs "requires: [shutdown]"`);
  return {
    name: header.name,
    description: header.description?.trim() ?? "",
    file,
    requires,
    timeoutMs: header.timeout_ms ?? DEFAULT_CASE_TIMEOUT_MS,
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
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort();
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
  new RegExp(
    `^${glob
      .split("")
      .map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
      .join("")}$`,
  );

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
