// Checks a frame written in a case against the contract's message descriptors before the case runs: every
// key must be a field (proto or JSON name) of the message at its place, and every enum value written as a
// name must be one of the enum's (in a matcher also without its prefix, as match.ts compares them). A typo
// such as `{room_joined: {memebr_count: 2}}` would otherwise only show as an expectation timing out.
import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import { enumNameMatches } from "./match.ts";
import { hasPlaceholder } from "./template.ts";

export interface ShapeIssue {
  readonly path: ReadonlyArray<PropertyKey>;
  readonly issue: string;
}

type Shape =
  | { readonly kind: "message"; readonly desc: DescMessage }
  | { readonly kind: "enum"; readonly desc: DescEnum }
  | { readonly kind: "list"; readonly of: Shape }
  | { readonly kind: "other" };

const OTHER: Shape = { kind: "other" };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Messages with a special JSON form (google.protobuf.*) are left to the matcher. */
const messageShape = (desc: DescMessage): Shape => (desc.typeName.startsWith("google.protobuf.") ? OTHER : { kind: "message", desc });

const shapeOf = (f: DescField): Shape => {
  switch (f.fieldKind) {
    case "message":
      return messageShape(f.message);
    case "enum":
      return { kind: "enum", desc: f.enum };
    case "list":
      return {
        kind: "list",
        of: f.listKind === "message" ? messageShape(f.message) : f.listKind === "enum" ? { kind: "enum", desc: f.enum } : OTHER,
      };
    default:
      return OTHER;
  }
};

const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

export interface ShapeOptions {
  /** Matcher operators (`$any`, `$contains` ...) may appear (expectations), or not (frames to send). */
  readonly operators: boolean;
  /** Field names that are not to be written here, with the reason. */
  readonly reserved?: Readonly<Record<string, string>>;
}

const check = (shape: Shape, value: unknown, path: ReadonlyArray<PropertyKey>, options: ShapeOptions, out: ShapeIssue[]): void => {
  if (options.operators && isObject(value) && Object.keys(value).some((k) => k.startsWith("$"))) {
    // Operands that stand for the same value are checked against the same shape; plain keys beside the
    // operators are fields of the same message.
    const plain: Record<string, unknown> = {};
    for (const [op, arg] of Object.entries(value)) {
      if (!op.startsWith("$")) plain[op] = arg;
      else if (op === "$ne" || op === "$not") check(shape, arg, [...path, op], options, out);
      else if (op === "$one_of" && Array.isArray(arg)) arg.forEach((a, i) => check(shape, a, [...path, op, i], options, out));
      else if (op === "$contains" && shape.kind === "list" && Array.isArray(arg))
        arg.forEach((a, i) => check(shape.of, a, [...path, op, i], options, out));
      else if (op === "$each" && shape.kind === "list") check(shape.of, arg, [...path, op], options, out);
    }
    if (Object.keys(plain).length > 0) check(shape, plain, path, options, out);
    return;
  }
  switch (shape.kind) {
    case "message": {
      if (!isObject(value)) return;
      for (const [key, v] of Object.entries(value)) {
        const reserved = path.length === 0 ? options.reserved?.[key] : undefined;
        if (reserved !== undefined) {
          out.push({ path: [...path, key], issue: reserved });
          continue;
        }
        const field = shape.desc.fields.find((f) => f.name === key || f.jsonName === key || f.name === snake(key));
        if (field === undefined)
          out.push({
            path: [...path, key],
            issue: `not a field of ${shape.desc.typeName} (${shape.desc.fields.map((f) => f.name).join(", ")})`,
          });
        else check(shapeOf(field), v, [...path, key], options, out);
      }
      return;
    }
    case "list":
      if (Array.isArray(value)) value.forEach((e, i) => check(shape.of, e, [...path, i], options, out));
      return;
    case "enum": {
      if (typeof value !== "string" || hasPlaceholder(value)) return;
      const names = shape.desc.values.map((v) => v.name);
      const ok = options.operators ? names.some((n) => enumNameMatches(value, n)) : names.includes(value);
      if (!ok) out.push({ path, issue: `not a value of ${shape.desc.typeName} (${names.join(", ")})` });
      return;
    }
    case "other":
      return;
  }
};

/** The places where `value` does not fit message `desc`; empty when it fits. */
export const shapeIssues = (desc: DescMessage, value: unknown, options: ShapeOptions): ShapeIssue[] => {
  const out: ShapeIssue[] = [];
  check(messageShape(desc), value, [], options, out);
  return out;
};
