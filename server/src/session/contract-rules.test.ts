// The contract's buf.validate rules are what the server enforces: each limit refuses the first value past it.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ClientFrameSchema } from "../../../proto/gen/es/chat/v1/envelope_pb.js";
import { contractViolation } from "./contract-rules.ts";
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
});
