// The limits written in the contract (`buf.validate` rules in proto/chat/v1: lengths of names, texts, ids,
// page sizes) checked with protovalidate on every request before it runs, so the schema is the one place
// they are defined. Rules the schema cannot state (NFC, no control characters, not only white space) stay
// in the services that own those fields. The hottest request, SendMessage, is first tried against a plain
// check that only ever says "keeps every rule" (anything it cannot vouch for goes to protovalidate, which
// words the refusal), so the result is protovalidate's in every case.
import type { DescMessage } from "@bufbuild/protobuf";
import { createValidator } from "@bufbuild/protovalidate";
import { type FieldLimit, limitsOf } from "../../../client/src/sdk/contract-rules.ts";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { SendMessageRequestSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import type { Request } from "./machine.ts";

const validator = createValidator();

/** The message schema of each ClientFrame request kind, by its oneof case. */
const requestSchemas: ReadonlyMap<string, DescMessage> = new Map(
  ClientFrameSchema.oneofs[0]!.fields.flatMap((f) => (f.message ? [[f.localName, f.message] as const] : [])),
);

/** SendMessageRequest's field limits as message.proto states them (read by the SDK's `limitsOf`). */
const sendLimits = new Map(limitsOf(SendMessageRequestSchema).map((limit) => [limit.localName, limit]));
const limit = <K extends keyof FieldLimit>(field: string, key: K): NonNullable<FieldLimit[K]> => {
  const value = sendLimits.get(field)?.[key];
  if (value === undefined || value === null) throw new Error(`message.proto: SendMessageRequest.${field} has no ${key} rule`);
  return value;
};
const ROOM_CODE_MIN = limit("roomCode", "minLen");
const ROOM_CODE_MAX = limit("roomCode", "maxLen");
const CLIENT_ID_MIN = limit("clientMessageId", "minBytes");
const CLIENT_ID_MAX = limit("clientMessageId", "maxBytes");
const TEXT_MAX = limit("text", "maxBytes");
const REPLY_TO_MAX = limit("replyToSeq", "lte64");

/**
 * True when a SendMessageRequest without attachments surely keeps the rules of message.proto: room_code 1-16
 * characters, client_message_id 1-64 bytes, text at most 4096 bytes and not empty (the message-level
 * `text_or_attachments` rule), reply_to_seq at most 2^63 - 1 (the numbers read from the schema above).
 * False means "not sure", never "invalid". Buffer.byteLength counts as protovalidate does (TextEncoder's
 * length: an unpaired surrogate is 3 bytes); a string of n UTF-16 units has at most n code points, at least n
 * bytes and at most 3n bytes.
 */
export const sendKeepsRules = (r: Extract<Request, { case: "sendMessage" }>["value"]): boolean => {
  if (r.attachmentIds.length !== 0) return false;
  const { roomCode, clientMessageId, text } = r;
  return (
    roomCode.length >= ROOM_CODE_MIN &&
    roomCode.length <= ROOM_CODE_MAX &&
    clientMessageId.length >= CLIENT_ID_MIN &&
    (clientMessageId.length <= Math.floor(CLIENT_ID_MAX / 3) || Buffer.byteLength(clientMessageId, "utf8") <= CLIENT_ID_MAX) &&
    text.length >= 1 &&
    (text.length <= Math.floor(TEXT_MAX / 3) || Buffer.byteLength(text, "utf8") <= TEXT_MAX) &&
    r.replyToSeq <= REPLY_TO_MAX
  );
};

/**
 * The first rule of the contract a request breaks, in words ("text: must be at most 4096 bytes"), or
 * undefined when it keeps them all.
 */
export const contractViolation = (request: Request): string | undefined => {
  if (request.case === "sendMessage" && sendKeepsRules(request.value)) return undefined;
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
