// Variables in case data: `${name}` placeholders in any string of a step are replaced before the step runs.
// A string that is exactly one placeholder takes the variable's value as is (a number, a list), so saved
// values keep their type; inside a longer string the value is converted to text.
//
//   ${unique:alice}     a username unique to this run and case ("alice-<run>-<case>"), the same within a case
//   ${room}             a variable saved by `$save` (or set by `set`, or the loop index `i` of `repeat`)
//   ${seq+1} ${seq-2}   integer arithmetic on a saved value (int64 values arrive as strings)
//   ${room|lower}       filters: upper, lower, len (length of a string or list)
//   ${repeat:4097:x}    "x" 4097 times (long texts)
//   ${now}              the runner's clock, Unix milliseconds
//   $${                 a literal "${"

export interface Scope {
  readonly vars: Map<string, unknown>;
  /** The per-run, per-case unique form of a name. */
  unique(name: string): string;
}

export class TemplateError extends Error {}

const PLACEHOLDER = /\$\$\{|\$\{([^}]*)\}/g;

/** Whether a string holds a placeholder (not only a literal `$${`): its value is known when the step runs. */
export const hasPlaceholder = (s: string): boolean => s.replaceAll("$${", "").includes("${");

const isIntegerText = (v: unknown): v is string | number | bigint =>
  typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v)) || (typeof v === "string" && /^-?\d+$/.test(v));

const evaluate = (expr: string, scope: Scope): unknown => {
  const [head = "", ...filters] = expr.split("|").map((s) => s.trim());
  let value: unknown;
  if (head.startsWith("unique:")) {
    value = scope.unique(head.slice("unique:".length));
  } else if (head.startsWith("repeat:")) {
    const m = /^repeat:(\d+):(.*)$/s.exec(head);
    if (!m) throw new TemplateError(`bad placeholder \${${expr}}: use \${repeat:N:text}`);
    value = (m[2] ?? "").repeat(Number(m[1]));
  } else if (head === "now") {
    value = Date.now();
  } else {
    const m = /^([A-Za-z_][\w.-]*?)\s*(?:([+-])\s*(\d+))?$/.exec(head);
    if (!m) throw new TemplateError(`bad placeholder \${${expr}}`);
    const name = m[1]!;
    if (!scope.vars.has(name)) throw new TemplateError(`undefined variable "${name}"`);
    value = scope.vars.get(name);
    if (m[2]) {
      if (!isIntegerText(value)) throw new TemplateError(`\${${expr}}: "${name}" is not an integer (${JSON.stringify(value)})`);
      const n = m[2] === "+" ? BigInt(value) + BigInt(m[3]!) : BigInt(value) - BigInt(m[3]!);
      value = typeof value === "number" ? Number(n) : n.toString();
    }
  }
  for (const f of filters) {
    if (f === "upper") value = String(value).toUpperCase();
    else if (f === "lower") value = String(value).toLowerCase();
    else if (f === "len") value = Array.isArray(value) ? value.length : String(value).length;
    else throw new TemplateError(`unknown filter "|${f}" in \${${expr}}`);
  }
  return value;
};

const asText = (v: unknown): string => (typeof v === "string" ? v : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

/** Replaces placeholders in one string. */
export const interpolateString = (s: string, scope: Scope): unknown => {
  const whole = /^\$\{([^}]*)\}$/.exec(s);
  if (whole) return evaluate(whole[1]!, scope);
  return s.replace(PLACEHOLDER, (all, expr: string | undefined) => (expr === undefined ? "${" : asText(evaluate(expr, scope))));
};

/** Replaces placeholders in every string of a value (object keys are left alone). */
export const interpolate = (value: unknown, scope: Scope): unknown => {
  if (typeof value === "string") return interpolateString(value, scope);
  if (Array.isArray(value)) return value.map((v) => interpolate(v, scope));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolate(v, scope)]));
  }
  return value;
};
