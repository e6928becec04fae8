// Builds a fully populated message for any schema from its descriptor: every scalar non-default, every
// enum on its first non-zero value, every list with one element, every message field set (recursively).
// Used to prove that every frame kind survives encode -> decode unchanged.
import { create, ScalarType, type DescField, type DescMessage, type MessageShape } from "@bufbuild/protobuf";

function scalarSample(type: ScalarType, salt: number): unknown {
  switch (type) {
    case ScalarType.STRING:
      return `s${salt}-ÄΩ<b>`;
    case ScalarType.BYTES:
      return new Uint8Array([salt & 0xff, 1, 2]);
    case ScalarType.BOOL:
      return true;
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return -(2n ** 40n) - BigInt(salt);
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return 2n ** 53n + BigInt(salt);
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return 1.5 + salt;
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return -7 - salt;
    default:
      return 4_000_000_000 - salt;
  }
}

function fieldSample(field: DescField, salt: number, depth: number): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return scalarSample(field.scalar, salt);
    case "enum":
      return field.enum.values.find((v) => v.number !== 0)?.number ?? 0;
    case "message":
      return sampleInit(field.message, depth + 1);
    case "list":
      if (field.listKind === "scalar") return [scalarSample(field.scalar, salt), scalarSample(field.scalar, salt + 1)];
      if (field.listKind === "enum") return [field.enum.values.at(-1)?.number ?? 0];
      return [sampleInit(field.message, depth + 1), sampleInit(field.message, depth + 2)];
    case "map":
      return {};
  }
}

function sampleInit(desc: DescMessage, depth: number): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (depth > 6) return init;
  desc.fields.forEach((field, i) => {
    if (field.oneof === undefined) init[field.localName] = fieldSample(field, depth * 10 + i, depth);
  });
  // A oneof gets its first member; callers pick a specific member with sampleWithCase.
  for (const oneof of desc.oneofs) {
    const first = oneof.fields[0];
    if (first) init[oneof.localName] = { case: first.localName, value: fieldSample(first, depth, depth) };
  }
  return init;
}

/** A fully populated message of `desc`. */
export function sample<Desc extends DescMessage>(desc: Desc): MessageShape<Desc> {
  return create(desc, sampleInit(desc, 0) as never);
}

/** A fully populated envelope whose `oneofName` oneof holds `field`, itself fully populated. */
export function sampleWithCase<Desc extends DescMessage>(desc: Desc, oneofName: string, field: DescField): MessageShape<Desc> {
  const init = sampleInit(desc, 0);
  init[oneofName] = { case: field.localName, value: fieldSample(field, 1, 1) };
  return create(desc, init as never);
}
