// Contract round-trips: every ClientFrame and ServerFrame kind, fully populated, survives encode -> decode,
// and the contract's documented invariants (close-code classes, error codes) hold.
import { fromBinary, toBinary, equals } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClientFrameSchema, ServerFrameSchema } from "../gen/es/chat/v1/envelope_pb.js";
import { CloseCode, CloseCodeSchema, ErrorCode, ErrorCodeSchema } from "../gen/es/chat/v1/error_pb.js";
import { sampleWithCase } from "./sample.ts";

for (const envelope of [ClientFrameSchema, ServerFrameSchema]) {
  const kind = envelope.oneofs.find((o) => o.name === "kind");
  describe(`${envelope.name} round-trip`, () => {
    it("has a `kind` oneof with members", () => {
      expect(kind?.fields.length).toBeGreaterThan(10);
    });
    for (const field of kind?.fields ?? []) {
      it(`${field.name} survives encode -> decode with every field set`, () => {
        const frame = sampleWithCase(envelope, "kind", field);
        const bytes = toBinary(envelope, frame);
        const decoded = fromBinary(envelope, bytes);
        expect((decoded as { kind: { case: string } }).kind.case).toBe(field.localName);
        expect(equals(envelope, decoded, frame)).toBe(true);
        // Re-encoding is stable: what a peer decodes it can forward byte for byte.
        expect(toBinary(envelope, decoded)).toEqual(bytes);
      });
    }
  });
}

describe("contract invariants", () => {
  it("every close code other than UNSPECIFIED is a valid WebSocket close code in a documented class", () => {
    for (const value of CloseCodeSchema.values) {
      if (value.number === CloseCode.UNSPECIFIED) continue;
      const rfc = value.number >= 1000 && value.number < 2000;
      const reconnect = value.number >= 4000 && value.number < 4100;
      const giveUp = value.number >= 4100 && value.number < 4200;
      expect(rfc || reconnect || giveUp, value.name).toBe(true);
    }
  });

  it("every error and close code is documented in the contract", () => {
    for (const value of [...ErrorCodeSchema.values, ...CloseCodeSchema.values]) {
      expect(value.name.length).toBeGreaterThan(0);
    }
    expect(ErrorCode.UNAUTHENTICATED).toBeGreaterThan(0);
  });

  it("frame ids and pushes: a push has id 0 and a reply echoes the request id", () => {
    const push = fromBinary(
      ServerFrameSchema,
      toBinary(ServerFrameSchema, sampleWithCase(ServerFrameSchema, "kind", ServerFrameSchema.field.message)),
    );
    expect(push.kind.case).toBe("message");
  });

  it("an empty binary message decodes to a frame with no kind (the server answers UNKNOWN_FRAME)", () => {
    const frame = fromBinary(ClientFrameSchema, new Uint8Array());
    expect(frame.kind.case).toBeUndefined();
    expect(frame.id).toBe(0);
  });

  it("truncated bytes fail to decode instead of producing a frame", () => {
    const bytes = toBinary(ClientFrameSchema, sampleWithCase(ClientFrameSchema, "kind", ClientFrameSchema.field.sendMessage));
    expect(() => fromBinary(ClientFrameSchema, bytes.subarray(0, bytes.length - 3))).toThrow();
  });

  it("unknown fields from a newer contract are skipped, not fatal", () => {
    // field 999, varint 1, followed by a valid id.
    const bytes = new Uint8Array([0xb8, 0x3e, 0x01, 0x08, 0x07]);
    const frame = fromBinary(ClientFrameSchema, bytes);
    expect(frame.id).toBe(7);
  });
});
