// The SDK reads the contract's limits from the schema and agrees with the server's protovalidate on them.
import { create, type DescMessage, ScalarType } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { SendMessageRequestSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { contractViolation, limitsOf, maxBytesOf, messageRulesOf } from "./contract-rules.ts";

const requestSchemas: DescMessage[] = ClientFrameSchema.oneofs[0]!.fields.flatMap((f) => (f.message ? [f.message] : []));

describe("contract rules in the SDK", () => {
  it("understands every rule the contract uses", () => {
    const all = requestSchemas.flatMap((s) => limitsOf(s).map((l) => ({ message: s.typeName, ...l })));
    expect(all.length).toBeGreaterThan(15);
    expect(all.filter((l) => l.unsupported.length > 0)).toEqual([]);
    expect(
      requestSchemas.flatMap((s) =>
        messageRulesOf(s)
          .filter((r) => !r.known)
          .map((r) => `${s.typeName}: ${r.id}`),
      ),
    ).toEqual([]);
  });

  it("reads the text limit from the schema", () => {
    expect(maxBytesOf(SendMessageRequestSchema, "text")).toBe(4096);
    const long = create(SendMessageRequestSchema, { roomCode: "K7QX2M", clientMessageId: "m", text: "é".repeat(2049) });
    expect(contractViolation(SendMessageRequestSchema, long)).toBe("text: must be at most 4096 bytes");
  });

  it("agrees with protovalidate on random requests", () => {
    const validator = createValidator();
    const text = fc.oneof(fc.string({ maxLength: 70 }), fc.string({ unit: "grapheme", maxLength: 40 }), fc.constant(""));
    fc.assert(
      fc.property(fc.constantFrom(...requestSchemas), text, text, fc.integer({ min: 0, max: 400 }), (schema, a, b, n) => {
        const init: Record<string, unknown> = {};
        let i = 0;
        for (const f of schema.fields) {
          if (f.fieldKind !== "scalar") continue;
          const value =
            f.scalar === ScalarType.STRING
              ? i++ % 2 === 0
                ? a.repeat(1 + (n % 5))
                : b
              : f.scalar === ScalarType.UINT32
                ? n
                : f.scalar === ScalarType.UINT64
                  ? BigInt(n % 3)
                  : undefined;
          if (value === undefined) continue;
          // A oneof gets its first member (or none, one time in five): required oneofs are checked too.
          if (f.oneof !== undefined) {
            if (n % 5 !== 0 && f.oneof.fields[n % f.oneof.fields.length] === f) init[f.oneof.localName] = { case: f.localName, value };
          } else init[f.localName] = value;
        }
        const message = create(schema, init);
        const server = validator.validate(schema, message).kind === "valid";
        expect(contractViolation(schema, message) === undefined).toBe(server);
      }),
      { numRuns: 2000 },
    );
  });
});
