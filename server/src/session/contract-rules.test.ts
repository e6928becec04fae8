// The contract's buf.validate rules are what the server enforces: each limit refuses the first value past it.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { createValidator } from "@bufbuild/protovalidate";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { SendMessageRequestSchema } from "../../../proto/gen/es/chat/v1/message_pb.js";
import { contractViolation, sendKeepsRules } from "./contract-rules.ts";
import type { Request } from "./machine.ts";

const request = (kind: MessageInitShape<typeof ClientFrameSchema>["kind"]): Request =>
  create(ClientFrameSchema, { id: 1, kind }).kind as Request;
const send = (text: string, clientMessageId = "m-1", roomCode = "K7QX2M") =>
  request({ case: "sendMessage", value: { roomCode, clientMessageId, text } });

describe("contract rules", () => {
  it("accepts requests within every limit", () => {
    expect(contractViolation(send("x".repeat(4096)))).toBeUndefined();
    expect(contractViolation(send("é".repeat(2048)))).toBeUndefined(); // 4096 bytes of UTF-8
    expect(contractViolation(request({ case: "history", value: { roomCode: "K7QX2M", limit: 200 } }))).toBeUndefined();
    expect(contractViolation(request({ case: "register", value: { username: "ü".repeat(32), password: "12345678" } }))).toBeUndefined();
    expect(contractViolation(request({ case: "ping", value: {} }))).toBeUndefined();
  });

  it("refuses the first value past each limit, naming the field", () => {
    expect(contractViolation(send("x".repeat(4097)))).toBe("text: must be at most 4096 bytes");
    expect(contractViolation(send("é".repeat(2048) + "x"))).toBe("text: must be at most 4096 bytes");
    expect(contractViolation(send(""))).toMatch(/^text: /);
    expect(contractViolation(send("hi", "x".repeat(65)))).toMatch(/^client_message_id: must be at most 64 bytes/);
    expect(contractViolation(send("hi", ""))).toMatch(/^client_message_id: /);
    expect(contractViolation(request({ case: "history", value: { roomCode: "K7QX2M", limit: 201 } }))).toBe(
      "limit: must be less than or equal to 200",
    );
    expect(contractViolation(request({ case: "directHistory", value: { peer: "bob", limit: 201 } }))).toMatch(/^limit: /);
    expect(contractViolation(request({ case: "register", value: { username: "ü".repeat(33), password: "12345678" } }))).toMatch(
      /^username: /,
    );
    expect(contractViolation(request({ case: "register", value: { username: "bob", password: "1234567" } }))).toMatch(/^password: /);
    expect(contractViolation(request({ case: "login", value: { username: "bob", password: "x".repeat(257) } }))).toMatch(/^password: /);
    expect(contractViolation(request({ case: "createRoom", value: { name: "n".repeat(65) } }))).toMatch(/^name: /);
    expect(contractViolation(request({ case: "joinRoom", value: { code: "" } }))).toMatch(/^code: /);
    expect(contractViolation(request({ case: "resume", value: { sessionToken: "t".repeat(129) } }))).toMatch(/^session_token: /);
  });

  it("reports every broken rule of a request", () => {
    expect(contractViolation(send("", "", ""))?.split("; ")).toHaveLength(3);
  });

  it("refuses exactly what buf.validate refuses for SendMessage (the plain check in front of protovalidate)", () => {
    // Values on both sides of every limit, in 1-, 2-, 3- and 4-byte characters and unpaired surrogates.
    const around = (unit: string, n: number) => [n - 1, n, n + 1].filter((k) => k >= 0).map((k) => unit.repeat(k));
    const units = ["x", "é", "€", "😀", "\ud800", "\udc00"];
    const roomCodes = ["", "K7QX2M", ...units.flatMap((u) => around(u, 16)), "😀".repeat(9), "x".repeat(15) + "😀"];
    const ids = ["", "m-1", ...units.flatMap((u) => [...around(u, 21), ...around(u, 22), ...around(u, 32), ...around(u, 64)])];
    const texts = [
      "",
      " ",
      "hi",
      ...units.flatMap((u) => [...around(u, 1024), ...around(u, 1365), ...around(u, 1366), ...around(u, 2048), ...around(u, 4096)]),
    ];
    const seqs = [0n, 1n, 9223372036854775807n, 9223372036854775808n, 18446744073709551615n];
    const attachments = [[], ["u-1"], ["u-1", "u-1"], [""], Array.from({ length: 11 }, (_, i) => `u-${i}`)];
    const validator = createValidator();
    let vouched = 0;
    let checked = 0;
    const label = (value: object) => JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v));
    const check = (value: MessageInitShape<typeof SendMessageRequestSchema>) => {
      const req = request({ case: "sendMessage", value });
      const message = create(SendMessageRequestSchema, value);
      const valid = validator.validate(SendMessageRequestSchema, message).kind === "valid";
      if (sendKeepsRules(message)) {
        vouched++;
        expect(valid, label(value)).toBe(true);
      }
      expect(contractViolation(req) === undefined, label(value)).toBe(valid);
      checked++;
    };
    for (const roomCode of roomCodes) check({ roomCode, clientMessageId: "m-1", text: "hi" });
    for (const clientMessageId of ids) check({ roomCode: "K7QX2M", clientMessageId, text: "hi" });
    for (const text of texts) check({ roomCode: "K7QX2M", clientMessageId: "m-1", text });
    for (const replyToSeq of seqs) check({ roomCode: "K7QX2M", clientMessageId: "m-1", text: "hi", replyToSeq });
    for (const attachmentIds of attachments)
      for (const text of ["", "hi"]) check({ roomCode: "K7QX2M", clientMessageId: "m-1", text, attachmentIds });
    // The plain check does vouch for ordinary sends (else it saves nothing): a UUID id, a short text.
    expect(
      sendKeepsRules(create(SendMessageRequestSchema, { roomCode: "K7QX2M", clientMessageId: crypto.randomUUID(), text: "hello" })),
    ).toBe(true);
    expect(vouched).toBeGreaterThan(checked / 3);
  });
});
