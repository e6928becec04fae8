// Partial matching of received frames (as protobuf JSON, proto field names, defaults included) against the
// expectation written in a case. Objects match when every expected key matches (other keys are ignored);
// lists match element by element and must have the same length; scalars compare by value, with integers
// compared as integers whether they arrive as numbers or as int64 strings, and enum values matching by their
// full name (ERROR_CODE_NOT_FOUND) or without the enum's prefix (NOT_FOUND). Keys may be written in
// snake_case (room_code) or camelCase (roomCode).
//
// Operators (an object whose keys start with "$"; several may be combined, all must hold):
//   $any: true              present, any value            $absent: true     missing, null or the default ("", 0, false, [])
//   $save: name             any value, saved as ${name}    $regex: "..."      string matching the regular expression
//   $gt/$gte/$lt/$lte: n    integer comparisons           $ne: v             anything that does not match v
//   $one_of: [a, b]         matches one of the values       $len: n | matcher  length of a list or string
//   $contains: [a, b]       a list holding elements matching each of a, b (in any order, each a different element)
//   $each: m                every element of a list matches m
//   $not: m                 does not match m
// Plain keys next to operators are matched as in an object.

export type MatchResult = { readonly ok: true; readonly captures: Map<string, unknown> } | { readonly ok: false; readonly reason: string };

const ENUM_PREFIXES = ["ERROR_CODE_", "CLOSE_CODE_", "PRESENCE_CHANGE_", "HISTORY_DIRECTION_"];

const OPERATORS = new Set([
  "$any",
  "$save",
  "$regex",
  "$gt",
  "$gte",
  "$lt",
  "$lte",
  "$ne",
  "$one_of",
  "$len",
  "$contains",
  "$each",
  "$not",
  "$absent",
]);

export class MatcherError extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

const toInteger = (v: unknown): bigint | undefined => {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  return undefined;
};

const show = (v: unknown): string => {
  const s = JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
  if (s === undefined) return String(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
};

const camel = (k: string) => k.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const lookup = (obj: Record<string, unknown>, key: string): { found: boolean; value: unknown } => {
  for (const k of [key, camel(key), snake(key)]) if (Object.hasOwn(obj, k)) return { found: true, value: obj[k] };
  return { found: false, value: undefined };
};

const isDefault = (v: unknown) =>
  v === undefined ||
  v === null ||
  v === "" ||
  v === 0 ||
  v === "0" ||
  v === false ||
  (Array.isArray(v) && v.length === 0) ||
  (isObject(v) && Object.keys(v).length === 0);

const scalarEqual = (expected: unknown, actual: unknown): boolean => {
  if (expected === actual) return true;
  const e = toInteger(expected);
  const a = toInteger(actual);
  if (e !== undefined && a !== undefined) return e === a;
  if (typeof expected === "string" && typeof actual === "string") {
    return ENUM_PREFIXES.some((p) => actual === p + expected && /^[A-Z0-9_]+$/.test(expected));
  }
  return false;
};

/** An enum value written in a case (`NOT_FOUND` or `ERROR_CODE_NOT_FOUND`) against a value's full name. */
export const enumNameMatches = (written: string, fullName: string): boolean => scalarEqual(written, fullName);

const fail = (path: string, reason: string): MatchResult => ({ ok: false, reason: `${path}: ${reason}` });
const OK = (): MatchResult => ({ ok: true, captures: new Map() });

const merge = (into: Map<string, unknown>, from: Map<string, unknown>) => {
  for (const [k, v] of from) into.set(k, v);
};

const compareInt = (op: string, expected: unknown, actual: unknown, path: string): MatchResult => {
  const e = toInteger(expected);
  if (e === undefined) throw new MatcherError(`${path}: ${op} needs an integer, got ${show(expected)}`);
  const a = toInteger(actual);
  if (a === undefined) return fail(path, `expected an integer ${op} ${e}, got ${show(actual)}`);
  const holds = op === "$gt" ? a > e : op === "$gte" ? a >= e : op === "$lt" ? a < e : a <= e;
  return holds ? OK() : fail(path, `expected ${op.slice(1)} ${e}, got ${a}`);
};

const matchOperators = (expected: Record<string, unknown>, actual: unknown, present: boolean, path: string): MatchResult => {
  const captures = new Map<string, unknown>();
  const plain: Record<string, unknown> = {};
  for (const [op, arg] of Object.entries(expected)) {
    if (!op.startsWith("$")) {
      plain[op] = arg;
      continue;
    }
    if (!OPERATORS.has(op)) throw new MatcherError(`${path}: unknown operator ${op}`);
    let r: MatchResult;
    switch (op) {
      case "$any":
        r = present ? OK() : fail(path, "missing");
        break;
      case "$absent":
        r = !present || isDefault(actual) ? OK() : fail(path, `expected absent, got ${show(actual)}`);
        break;
      case "$save":
        if (typeof arg !== "string" || arg === "") throw new MatcherError(`${path}: $save needs a variable name`);
        r = present ? { ok: true, captures: new Map([[arg, actual]]) } : fail(path, "missing (cannot save)");
        break;
      case "$regex":
        r =
          typeof actual === "string" && new RegExp(String(arg), "u").test(actual)
            ? OK()
            : fail(path, `expected a string matching /${String(arg)}/, got ${show(actual)}`);
        break;
      case "$gt":
      case "$gte":
      case "$lt":
      case "$lte":
        r = compareInt(op, arg, actual, path);
        break;
      case "$ne":
        r = match(arg, actual, path).ok ? fail(path, `expected anything but ${show(arg)}`) : OK();
        break;
      case "$not":
        r = match(arg, actual, path).ok ? fail(path, `expected not to match ${show(arg)}, got ${show(actual)}`) : OK();
        break;
      case "$one_of": {
        if (!Array.isArray(arg)) throw new MatcherError(`${path}: $one_of needs a list`);
        const hit = arg.map((a) => match(a, actual, path)).find((m) => m.ok);
        r = hit ?? fail(path, `expected one of ${show(arg)}, got ${show(actual)}`);
        break;
      }
      case "$len": {
        const len = Array.isArray(actual) ? actual.length : typeof actual === "string" ? [...actual].length : undefined;
        if (len === undefined) r = fail(path, `expected a list or string, got ${show(actual)}`);
        else {
          const m = match(arg, len, `${path}.length`);
          r = m.ok ? m : fail(path, `length ${len} does not match ${show(arg)}`);
        }
        break;
      }
      case "$each": {
        if (!Array.isArray(actual)) {
          r = fail(path, `expected a list, got ${show(actual)}`);
          break;
        }
        const got = new Map<string, unknown>();
        r = { ok: true, captures: got };
        for (let i = 0; i < actual.length; i++) {
          const m = match(arg, actual[i], `${path}[${i}]`);
          if (!m.ok) {
            r = m;
            break;
          }
          merge(got, m.captures);
        }
        break;
      }
      case "$contains": {
        if (!Array.isArray(arg)) throw new MatcherError(`${path}: $contains needs a list`);
        if (!Array.isArray(actual)) {
          r = fail(path, `expected a list, got ${show(actual)}`);
          break;
        }
        const used = new Set<number>();
        const got = new Map<string, unknown>();
        r = { ok: true, captures: got };
        for (const want of arg) {
          const i = actual.findIndex((a, j) => !used.has(j) && match(want, a, path).ok);
          if (i < 0) {
            r = fail(path, `no element matches ${show(want)} in ${show(actual)}`);
            break;
          }
          used.add(i);
          const m = match(want, actual[i], `${path}[${i}]`);
          if (m.ok) merge(got, m.captures);
        }
        break;
      }
      default:
        throw new MatcherError(`${path}: unknown operator ${op}`);
    }
    if (!r.ok) return r;
    merge(captures, r.captures);
  }
  if (Object.keys(plain).length > 0) {
    const r = match(plain, actual, path);
    if (!r.ok) return r;
    merge(captures, r.captures);
  }
  return { ok: true, captures };
};

/** Matches `actual` against the expectation; on success returns the values captured with `$save`. */
export const match = (expected: unknown, actual: unknown, path = "$", present = actual !== undefined): MatchResult => {
  if (isObject(expected) && Object.keys(expected).some((k) => k.startsWith("$"))) return matchOperators(expected, actual, present, path);
  if (!present) return fail(path, `missing (expected ${show(expected)})`);
  if (expected === null) return actual === null ? OK() : fail(path, `expected null, got ${show(actual)}`);
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return fail(path, `expected a list, got ${show(actual)}`);
    if (actual.length !== expected.length) return fail(path, `expected ${expected.length} elements, got ${actual.length}: ${show(actual)}`);
    const captures = new Map<string, unknown>();
    for (let i = 0; i < expected.length; i++) {
      const r = match(expected[i], actual[i], `${path}[${i}]`);
      if (!r.ok) return r;
      merge(captures, r.captures);
    }
    return { ok: true, captures };
  }
  if (isObject(expected)) {
    if (!isObject(actual)) return fail(path, `expected an object, got ${show(actual)}`);
    const captures = new Map<string, unknown>();
    for (const [key, want] of Object.entries(expected)) {
      const { found, value } = lookup(actual, key);
      const r = match(want, value, `${path}.${key}`, found);
      if (!r.ok) return r;
      merge(captures, r.captures);
    }
    return { ok: true, captures };
  }
  return scalarEqual(expected, actual) ? OK() : fail(path, `expected ${show(expected)}, got ${show(actual)}`);
};

/** Checks an expectation for unknown operators without a frame to match (case validation). */
export const validateMatcher = (expected: unknown, path = "$"): void => {
  if (Array.isArray(expected)) expected.forEach((e, i) => validateMatcher(e, `${path}[${i}]`));
  else if (isObject(expected)) {
    for (const [k, v] of Object.entries(expected)) {
      if (k.startsWith("$") && !OPERATORS.has(k)) throw new MatcherError(`${path}: unknown operator ${k}`);
      if (k === "$regex") new RegExp(String(v), "u");
      validateMatcher(v, `${path}.${k}`);
    }
  }
};

export { show };
