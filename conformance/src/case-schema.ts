// The conformance case format as a typed schema (Effect Schema): every step kind with its parameters, their
// types, which are required, and the rules between them. cases.ts decodes each case file with it, so a typo
// fails the load with its file, case, step and field; the engine then works on the decoded types only.
//
// Effect Schema rather than a protobuf message (as connectrpc/conformance's suite.proto): the YAML relies on
// unions protobuf JSON cannot state (`status: 101` or `[101, 503]`, `code: 1000` or a matcher, `connect: a`
// for `connect: {client: a}`), and a typed field may hold a `${...}` placeholder whose value is known only
// when the step runs (`count: "${n}"`), which a proto int32 would refuse.
import { Schema } from "effect";
import { ClientFrameSchema, ServerFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { shapeIssues } from "./frame-shape.ts";
import { MatcherError, validateMatcher } from "./match.ts";
import { hasPlaceholder } from "./template.ts";

/** Case names: kebab-case paths whose first part is the file (`rooms/expire-when-empty`). */
export const NAME_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*(?:\/[a-z0-9]+(?:-[a-z0-9]+)*)+$/;
/** Variable names, as template.ts reads them in `${name}`. */
export const VARIABLE_PATTERN = /^[A-Za-z_][\w.-]*$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

// ---- value types -------------------------------------------------------------------------------------------

/** A non-negative integer, written as a number, as digits, or as a placeholder filled when the step runs. */
export type IntParam = number | string;
const isIntParam = (u: unknown): u is IntParam =>
  (typeof u === "number" && Number.isInteger(u) && u >= 0) || (typeof u === "string" && (/^\d+$/.test(u) || hasPlaceholder(u)));
export const Int = Schema.declare(isIntParam, { expected: "a non-negative integer (or a ${...} placeholder)" });

/** One integer or a non-empty list of them (HTTP statuses allowed). */
export type IntOrList = IntParam | readonly [IntParam, ...IntParam[]];
const IntOrList = Schema.declare(
  (u: unknown): u is IntOrList => isIntParam(u) || (Array.isArray(u) && u.length > 0 && u.every(isIntParam)),
  { expected: "a non-negative integer or a non-empty list of them" },
);

const Text = Schema.String.annotate({ message: "Expected a string (quote it in YAML)" });
const NonEmptyText = Text.check(Schema.isMinLength(1, { message: "must not be empty" }));
const ClientName = NonEmptyText;

/** One string or a list of them. */
export type TextOrList = string | ReadonlyArray<string>;
const TextOrList = Schema.declare(
  (u: unknown): u is TextOrList => typeof u === "string" || (Array.isArray(u) && u.every((s) => typeof s === "string")),
  { expected: "a string or a list of strings" },
);

const Flag = Schema.Boolean.annotate({ message: "Expected true or false" });

/** Steps, each decoded on its own (cases.ts) so that its errors name it. */
const StepList = Schema.declare((u: unknown): u is readonly [unknown, ...unknown[]] => Array.isArray(u) && u.length > 0, {
  expected: "a non-empty list of steps",
});

/** A list, or a placeholder that holds one when the step runs. */
export type ListParam = string | ReadonlyArray<unknown>;
const listParam = (min: number) =>
  Schema.declare((u: unknown): u is ListParam => (typeof u === "string" && hasPlaceholder(u)) || (Array.isArray(u) && u.length >= min), {
    expected:
      min > 0 ? `a list of at least ${min} values (or a \${...} placeholder holding one)` : "a list (or a ${...} placeholder holding one)",
  });

const Mapping = Schema.Record(Schema.String, Schema.Unknown).annotate({ expected: "a mapping such as {ping: {}}" });

/** An expectation's `$` operators must be known and its regular expressions valid (match.ts). */
const validMatcher = Schema.makeFilter((u: unknown) => {
  try {
    validateMatcher(u);
    return undefined;
  } catch (e) {
    if (e instanceof MatcherError || e instanceof SyntaxError) return e.message;
    throw e;
  }
});

/** An expectation of any value. */
const Matcher = Schema.Unknown.check(validMatcher);

/** A ClientFrame in protobuf JSON without its id, with placeholders: `{join_room: {code: "${room}"}}`. */
const ClientFrameJson = Mapping.check(
  Schema.makeFilter((frame: Record<string, unknown>) =>
    shapeIssues(ClientFrameSchema, frame, { operators: false, reserved: { id: "the id is the step's id parameter, not part of frame" } }),
  ),
);

/** An expectation of a ServerFrame: `{room_joined: {member_count: 2}}`, operators allowed. */
const ServerFrameMatcher = Mapping.check(validMatcher).check(
  Schema.makeFilter((frame: Record<string, unknown>) => shapeIssues(ServerFrameSchema, frame, { operators: true })),
);

const HeaderValues = Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number, Schema.Boolean])).annotate({
  expected: "a mapping of header names to values",
});
const HeaderMatchers = Schema.Record(Schema.String, Matcher).annotate({ expected: "a mapping of header names to matchers" });

// ---- steps ---------------------------------------------------------------------------------------------------

const opt = Schema.optionalKey;

/** Every step but `set` and `shutdown` may repeat: N times with ${i} = 1..N, `interval_ms` apart. */
const repeatable = { repeat: opt(Int), interval_ms: opt(Int) };

/** Who to expect from and which frames. */
const expectation = { client: ClientName, frame: opt(ServerFrameMatcher), reply_to: opt(NonEmptyText), push: opt(Flag) };

const RAW_SOURCES = ["hex", "base64", "text", "size", "frame", "ws_ping"] as const;

/** The parameters of each step kind. A scalar step value (`connect: a`) fills the kind's SHORTHAND parameter. */
export const StepSchemas = {
  connect: Schema.Struct({
    client: ClientName,
    token: opt(Text),
    token_in: opt(Schema.Literals(["header", "query"])),
    origin: opt(Text),
    path: opt(Text),
    headers: opt(HeaderValues),
    status: opt(IntOrList),
    ...repeatable,
  }),
  send: Schema.Struct({ client: ClientName, frame: ClientFrameJson, id: opt(Int), label: opt(NonEmptyText), ...repeatable }),
  send_raw: Schema.Struct({
    client: ClientName,
    hex: opt(Text),
    base64: opt(Text),
    text: opt(Text),
    size: opt(Int),
    frame: opt(ClientFrameJson),
    id: opt(Int),
    truncate: opt(Int),
    ws_ping: opt(Text),
    ...repeatable,
  }).check(
    Schema.makeFilter((p) => {
      const given = RAW_SOURCES.filter((k) => p[k] !== undefined);
      if (given.length !== 1) return `give exactly one of ${RAW_SOURCES.join(", ")}${given.length > 1 ? ` (got ${given.join(", ")})` : ""}`;
      if (p.truncate !== undefined && p.frame === undefined) return { path: ["truncate"], issue: "truncate goes with frame" };
      if (p.id !== undefined && p.frame === undefined) return { path: ["id"], issue: "id goes with frame" };
      return undefined;
    }),
  ),
  expect: Schema.Struct({ ...expectation, id: opt(Int), next: opt(Flag), timeout_ms: opt(Int), ...repeatable }).check(
    Schema.makeFilter((p) =>
      p.frame === undefined && p.reply_to === undefined && p.id === undefined && p.push === undefined
        ? "give at least one of frame, reply_to, id, push"
        : undefined,
    ),
  ),
  expect_none: Schema.Struct({ ...expectation, within_ms: Int, ...repeatable }),
  expect_close: Schema.Struct({ client: ClientName, code: opt(Matcher), timeout_ms: opt(Int), ...repeatable }),
  expect_open: Schema.Struct({ client: ClientName, ...repeatable }),
  collect: Schema.Struct({
    client: ClientName,
    frame: ServerFrameMatcher,
    count: Int,
    pick: opt(NonEmptyText),
    save: NonEmptyText,
    timeout_ms: opt(Int),
    ...repeatable,
  }),
  assert: Schema.Struct({
    equal: opt(listParam(2)),
    value: opt(Schema.Unknown),
    match: opt(Matcher),
    sorted: opt(listParam(0)),
    by: opt(NonEmptyText),
    ...repeatable,
  }).check(
    Schema.makeFilter((p) => {
      if (p.equal === undefined && p.match === undefined && p.sorted === undefined)
        return `give "equal: [a, b, ...]", "value" and "match", or "sorted: list"`;
      if (p.match !== undefined && !Object.hasOwn(p, "value")) return { path: ["value"], issue: "match needs the value to compare" };
      if (p.by !== undefined && p.sorted === undefined) return { path: ["by"], issue: "by goes with sorted" };
      return undefined;
    }),
  ),
  wait: Schema.Struct({ ms: Int, ...repeatable }),
  disconnect: Schema.Struct({ client: ClientName, abort: opt(Flag), ...repeatable }),
  pause: Schema.Struct({ client: ClientName, ...repeatable }),
  resume: Schema.Struct({ client: ClientName, ...repeatable }),
  http: Schema.Struct({
    path: NonEmptyText,
    method: opt(Text.check(Schema.isPattern(/^[A-Za-z]+$/, { message: "must be an HTTP method such as GET or HEAD" }))),
    status: opt(IntOrList),
    body_contains: opt(TextOrList),
    body_not_contains: opt(TextOrList),
    headers: opt(HeaderMatchers),
    origin: opt(Text),
    ...repeatable,
  }),
  /**
   * POST a file to /v1/uploads: the body is `text`, `base64` or `size` zero bytes (exactly one); `token` is sent
   * as `Authorization: Bearer` (none when absent). `json` is matched against the JSON answer ($save captures).
   */
  upload: Schema.Struct({
    token: opt(Text),
    name: opt(Text),
    text: opt(Text),
    base64: opt(Text),
    size: opt(Int),
    content_type: opt(Text),
    status: opt(IntOrList),
    json: opt(Matcher),
    headers: opt(HeaderMatchers),
    ...repeatable,
  }).check(
    Schema.makeFilter((p) => {
      const given = (["text", "base64", "size"] as const).filter((k) => p[k] !== undefined);
      return given.length === 1
        ? undefined
        : `give exactly one of text, base64, size${given.length > 1 ? ` (got ${given.join(", ")})` : ""}`;
    }),
  ),
  /**
   * GET (or HEAD) a file path with the bearer `token` (none when absent). The body is checked as bytes: `body_base64`
   * equal to them, `size` their count, `body_contains` / `body_not_contains` strings in their Latin-1 reading
   * (so byte markers such as "Exif" can be looked for in binary files).
   */
  download: Schema.Struct({
    path: NonEmptyText,
    token: opt(Text),
    method: opt(Text.check(Schema.isPattern(/^(GET|HEAD|get|head)$/, { message: "must be GET or HEAD" }))),
    range: opt(Text),
    status: opt(IntOrList),
    headers: opt(HeaderMatchers),
    body_base64: opt(Text),
    size: opt(Int),
    body_contains: opt(TextOrList),
    body_not_contains: opt(TextOrList),
    ...repeatable,
  }),
  /** Variable names to values; a value may hold placeholders. */
  set: Schema.Record(Schema.String, Schema.Unknown).check(
    Schema.makeFilter((vars: Record<string, unknown>) =>
      Object.keys(vars).flatMap((k) => {
        if (k === "repeat" || k === "interval_ms") return [{ path: [k], issue: "set cannot repeat: put it in a group" }];
        return VARIABLE_PATTERN.test(k)
          ? []
          : [{ path: [k], issue: "not a variable name (letters, digits, _ . -; not starting with a digit)" }];
      }),
    ),
  ),
  /** Its steps are decoded one by one (cases.ts), so their errors name the nested step. */
  group: Schema.Struct({ steps: StepList, ...repeatable }),
  shutdown: Schema.Struct({}),
} as const;

export type Kind = keyof typeof StepSchemas;
export const isKind = (k: string): k is Kind => Object.hasOwn(StepSchemas, k);
export const KINDS: ReadonlyArray<Kind> = Object.keys(StepSchemas).filter(isKind);

/** The kinds whose only required parameter may be written as the step's value. */
export const SHORTHAND: { readonly [K in Kind]?: string } = {
  connect: "client",
  expect_open: "client",
  disconnect: "client",
  pause: "client",
  resume: "client",
  wait: "ms",
};

/** The decoded parameters of step kind K. */
export type Params<K extends Kind> = (typeof StepSchemas)[K]["Type"];

interface StepBase {
  /** "file.yaml: case > step N (kind)", for messages. */
  readonly where: string;
  readonly repeat?: IntParam;
  readonly intervalMs?: IntParam;
}

/** A decoded step: its kind and typed parameters; a group holds its decoded steps. */
export type Step = LeafStep | (StepBase & { readonly kind: "group"; readonly steps: ReadonlyArray<Step> });

/** The kinds whose steps carry their decoded parameters (all but group, which carries its steps). */
export type LeafKind = Exclude<Kind, "group">;
/** A step of kind K (of several kinds when K is a union). */
export type LeafStep<K extends LeafKind = LeafKind> = { readonly [P in K]: StepBase & { readonly kind: P; readonly params: Params<P> } }[K];

// ---- cases ---------------------------------------------------------------------------------------------------

export const DEFAULT_CASE_TIMEOUT_MS = 60_000;

/** A case without its steps, which are decoded one by one (see cases.ts). */
export const CaseHeader = Schema.Struct({
  name: Schema.String.check(Schema.isPattern(NAME_PATTERN, { message: `must be a kebab-case path like "auth/bad-password"` })),
  description: opt(Text),
  /** Features the runner must be given: "shutdown" (--shutdown-command). */
  requires: opt(Schema.Array(Schema.Literal("shutdown"))),
  /** Wall-clock limit for the whole case. */
  timeout_ms: opt(Schema.Int.check(Schema.isGreaterThan(0, { message: "must be a positive number of milliseconds" }))),
  steps: StepList,
});

export interface Case {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly requires: ReadonlyArray<"shutdown">;
  readonly timeoutMs: number;
  readonly steps: ReadonlyArray<Step>;
}

export { isObject };
