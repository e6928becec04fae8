// The contract's field limits (`buf.validate` rules in proto/chat/v1), read from the generated schema and
// checked before a request is sent, so a client never sends what the server refuses for its length. Only the
// rule kinds the contract uses are understood (a test fails when the contract starts using another); the full
// protovalidate runtime (about 400 KB minified) stays on the server.
import { type DescMessage, getOption, hasOption, isFieldSet, type Message } from "@bufbuild/protobuf";
import {
  field as fieldRules,
  message as messageRules,
  oneof as oneofRules,
  StringRulesSchema,
  UInt32RulesSchema,
  UInt64RulesSchema,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";

/** The limits of one field, as the schema states them. */
export interface FieldLimit {
  /** The field's name in the schema (snake_case), as in the server's error messages. */
  readonly name: string;
  /** The field's property name in generated code. */
  readonly localName: string;
  readonly minLen?: number;
  readonly maxLen?: number;
  readonly minBytes?: number;
  readonly maxBytes?: number;
  readonly lte?: number;
  /** uint64 bounds (`uint64.gte`, `uint64.lte`), e.g. a seq from 1 to 2^63 - 1. */
  readonly gte?: bigint;
  readonly lte64?: bigint;
  /** A repeated field: at most this many items, no repeats, each string of this many characters. */
  readonly maxItems?: number;
  readonly unique?: boolean;
  readonly itemMinLen?: number;
  readonly itemMaxLen?: number;
  /** Set for a member of a oneof: the oneof's property name; the field is checked only when it is the chosen case. */
  readonly oneof?: string;
  /** Rule kinds this module does not check, by name (empty for every rule the contract uses today). */
  readonly unsupported: ReadonlyArray<string>;
}

const cache = new WeakMap<DescMessage, ReadonlyArray<FieldLimit>>();

/** The limits stated for the fields of `schema` (fields without rules are left out). */
export const limitsOf = (schema: DescMessage): ReadonlyArray<FieldLimit> => {
  const cached = cache.get(schema);
  if (cached) return cached;
  const limits: FieldLimit[] = [];
  for (const f of schema.fields) {
    if (!hasOption(f, fieldRules)) continue;
    const rules = getOption(f, fieldRules);
    const limit: { -readonly [K in keyof FieldLimit]: FieldLimit[K] } = { name: f.name, localName: f.localName, unsupported: [] };
    if (f.oneof !== undefined) limit.oneof = f.oneof.localName;
    const unsupported: string[] = [];
    if (rules.type.case === "string") {
      const s = rules.type.value;
      for (const field of StringRulesSchema.fields) {
        if (!isFieldSet(s, field)) continue;
        const value = Number((s as unknown as Record<string, bigint>)[field.localName]);
        if (field.localName === "minLen") limit.minLen = value;
        else if (field.localName === "maxLen") limit.maxLen = value;
        else if (field.localName === "minBytes") limit.minBytes = value;
        else if (field.localName === "maxBytes") limit.maxBytes = value;
        else unsupported.push(`string.${field.name}`);
      }
    } else if (rules.type.case === "uint32") {
      const u = rules.type.value;
      if (u.lessThan.case === "lte") limit.lte = u.lessThan.value;
      else if (u.lessThan.case !== undefined) unsupported.push(`uint32.${u.lessThan.case}`);
      for (const field of UInt32RulesSchema.fields) {
        if (field.oneof === undefined && isFieldSet(u, field)) unsupported.push(`uint32.${field.name}`);
      }
      if (u.greaterThan.case !== undefined) unsupported.push(`uint32.${u.greaterThan.case}`);
    } else if (rules.type.case === "uint64") {
      const u = rules.type.value;
      if (u.greaterThan.case === "gte") limit.gte = u.greaterThan.value;
      else if (u.greaterThan.case !== undefined) unsupported.push(`uint64.${u.greaterThan.case}`);
      if (u.lessThan.case === "lte") limit.lte64 = u.lessThan.value;
      else if (u.lessThan.case !== undefined) unsupported.push(`uint64.${u.lessThan.case}`);
      for (const field of UInt64RulesSchema.fields) {
        if (field.oneof === undefined && isFieldSet(u, field)) unsupported.push(`uint64.${field.name}`);
      }
    } else if (rules.type.case === "repeated") {
      const r = rules.type.value;
      if (r.maxItems !== undefined && Number(r.maxItems) > 0) limit.maxItems = Number(r.maxItems);
      if (r.unique === true) limit.unique = true;
      if (r.minItems !== undefined && Number(r.minItems) > 0) unsupported.push("repeated.min_items");
      const items = r.items?.type;
      if (items?.case === "string") {
        for (const field of StringRulesSchema.fields) {
          if (!isFieldSet(items.value, field)) continue;
          const value = Number((items.value as unknown as Record<string, bigint>)[field.localName]);
          if (field.localName === "minLen") limit.itemMinLen = value;
          else if (field.localName === "maxLen") limit.itemMaxLen = value;
          else unsupported.push(`repeated.items.string.${field.name}`);
        }
      } else if (items?.case !== undefined) unsupported.push(`repeated.items.${items.case}`);
    } else if (rules.type.case !== undefined) {
      unsupported.push(rules.type.case);
    }
    limit.unsupported = unsupported;
    limits.push(limit);
  }
  cache.set(schema, limits);
  return limits;
};

const encoder = new TextEncoder();

/**
 * The message-level (CEL) rules the SDK knows, by id: a CEL runtime is too large for the browser bundle, so each
 * rule the contract adds is written here once (messageRulesOf lists any it does not know, and a test fails).
 */
const KNOWN_MESSAGE_RULES: Record<string, (fields: Record<string, unknown>) => boolean> = {
  // "this.text != '' || size(this.attachment_ids) > 0"
  text_or_attachments: (f) =>
    (typeof f.text === "string" && f.text !== "") || (Array.isArray(f.attachmentIds) && f.attachmentIds.length > 0),
};

/** The CEL rules stated on `schema` itself: id, message, and whether the SDK can check it. */
export const messageRulesOf = (
  schema: DescMessage,
): ReadonlyArray<{ readonly id: string; readonly message: string; readonly known: boolean }> =>
  hasOption(schema, messageRules)
    ? getOption(schema, messageRules).cel.map((r) => ({ id: r.id, message: r.message, known: Object.hasOwn(KNOWN_MESSAGE_RULES, r.id) }))
    : [];

/**
 * The first limit of the contract that `message` breaks, worded as the server words it
 * ("text: must be at most 4096 bytes"), or undefined when it keeps them all.
 */
export const contractViolation = (schema: DescMessage, message: Message): string | undefined => {
  const fields = message as unknown as Record<string, unknown>;
  for (const o of schema.oneofs) {
    const chosen = (fields[o.localName] as { case?: string } | undefined)?.case;
    if (chosen === undefined && hasOption(o, oneofRules) && getOption(o, oneofRules).required) {
      return `${o.name}: exactly one field is required in oneof`;
    }
  }
  for (const l of limitsOf(schema)) {
    let raw: unknown;
    if (l.oneof === undefined) raw = fields[l.localName];
    else {
      // A oneof member is checked only when it is the chosen case (protovalidate does the same).
      const chosen = fields[l.oneof] as { case?: string; value?: unknown } | undefined;
      if (chosen?.case !== l.localName) continue;
      raw = chosen.value;
    }
    // An unset field of a message built for sending reads as its default, as the server decodes it.
    const value =
      raw ?? (l.minLen !== undefined || l.minBytes !== undefined ? "" : l.gte !== undefined || l.lte64 !== undefined ? 0n : undefined);
    if (typeof value === "string") {
      const chars = l.minLen !== undefined || l.maxLen !== undefined ? [...value].length : 0;
      const bytes = l.minBytes !== undefined || l.maxBytes !== undefined ? encoder.encode(value).length : 0;
      if (l.minLen !== undefined && chars < l.minLen) return `${l.name}: must be at least ${l.minLen} characters`;
      if (l.maxLen !== undefined && chars > l.maxLen) return `${l.name}: must be at most ${l.maxLen} characters`;
      if (l.minBytes !== undefined && bytes < l.minBytes) return `${l.name}: must be at least ${l.minBytes} bytes`;
      if (l.maxBytes !== undefined && bytes > l.maxBytes) return `${l.name}: must be at most ${l.maxBytes} bytes`;
    } else if (typeof value === "number") {
      if (l.lte !== undefined && value > l.lte) return `${l.name}: must be less than or equal to ${l.lte}`;
    } else if (typeof value === "bigint") {
      if (l.gte !== undefined && l.lte64 !== undefined && (value < l.gte || value > l.lte64)) {
        return `${l.name}: must be greater than or equal to ${l.gte} and less than or equal to ${l.lte64}`;
      }
      if (l.gte !== undefined && value < l.gte) return `${l.name}: must be greater than or equal to ${l.gte}`;
      if (l.lte64 !== undefined && value > l.lte64) return `${l.name}: must be less than or equal to ${l.lte64}`;
    } else if (Array.isArray(value)) {
      if (l.maxItems !== undefined && value.length > l.maxItems) return `${l.name}: must contain no more than ${l.maxItems} item(s)`;
      if (l.unique === true && new Set(value).size !== value.length) return `${l.name}: repeated value must contain unique items`;
      for (const item of value) {
        const chars = typeof item === "string" ? [...item].length : 0;
        if (l.itemMinLen !== undefined && chars < l.itemMinLen) return `${l.name}: must be at least ${l.itemMinLen} characters`;
        if (l.itemMaxLen !== undefined && chars > l.itemMaxLen) return `${l.name}: must be at most ${l.itemMaxLen} characters`;
      }
    }
  }
  for (const rule of messageRulesOf(schema)) {
    const holds = KNOWN_MESSAGE_RULES[rule.id];
    if (holds !== undefined && !holds(fields)) return rule.message;
  }
  return undefined;
};

/** The most UTF-8 bytes the contract allows in a field (e.g. a message's text), for input hints. */
export const maxBytesOf = (schema: DescMessage, localName: string): number | undefined =>
  limitsOf(schema).find((l) => l.localName === localName)?.maxBytes;

/** The message schema of each ClientFrame request kind, by its oneof case. */
const requestSchemas: ReadonlyMap<string, DescMessage> = new Map(
  ClientFrameSchema.oneofs[0]!.fields.flatMap((f) => (f.message ? [[f.localName, f.message] as const] : [])),
);

/** The first limit of the contract a request (a ClientFrame kind, as built for sending) breaks, or undefined. */
export const requestViolation = (kind: { readonly case: string | undefined; readonly value?: unknown }): string | undefined => {
  if (kind.case === undefined) return undefined;
  const schema = requestSchemas.get(kind.case);
  return schema && kind.value ? contractViolation(schema, kind.value as Message) : undefined;
};
