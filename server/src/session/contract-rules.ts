// The limits written in the contract (`buf.validate` rules in proto/chat/v1: lengths of names, texts, ids,
// page sizes) checked with protovalidate on every request before it runs, so the schema is the one place
// they are defined. Rules the schema cannot state (NFC, no control characters, not only white space) stay
// in the services that own those fields.
import type { DescMessage } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import type { Request } from "./machine.ts";

const validator = createValidator();

/** The message schema of each ClientFrame request kind, by its oneof case. */
const requestSchemas: ReadonlyMap<string, DescMessage> = new Map(
  ClientFrameSchema.oneofs[0]!.fields.flatMap((f) => (f.message ? [[f.localName, f.message] as const] : [])),
);

/**
 * The first rule of the contract a request breaks, in words ("text: must be at most 4096 bytes"), or
 * undefined when it keeps them all.
 */
export const contractViolation = (request: Request): string | undefined => {
  const schema = requestSchemas.get(request.case);
  if (!schema) return undefined;
  const result = validator.validate(schema, request.value);
  switch (result.kind) {
    case "valid":
      return undefined;
    case "invalid":
      return result.violations.map((v) => v.toString().replace(/ \[[^\]]*\]$/, "")).join("; ");
    case "error":
      // A rule the validator cannot evaluate is a bug in the contract: fail closed, say so.
      return `the request could not be checked against the contract: ${result.error.message}`;
  }
};
