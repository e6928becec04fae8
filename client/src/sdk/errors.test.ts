// describeError / describeClose give words for every code, and ChatError keeps what the server said.
import { describe, expect, it } from "vitest";
import { CloseCode, ErrorCode } from "../../../proto/gen/es/chat/v1/error_pb.js";
import { ChatError, describeClose, describeError } from "./errors.ts";

const numeric = (e: object) => Object.values(e).filter((v): v is number => typeof v === "number");

describe("describeError", () => {
  it("has distinct words for every ErrorCode a server sends", () => {
    const words = numeric(ErrorCode).map((code) => describeError(new ChatError("x", { code })));
    for (const w of words) expect(w).toMatch(/\w+/);
    const sent = numeric(ErrorCode).filter((c) => c !== ErrorCode.UNSPECIFIED && c !== ErrorCode.INTERNAL);
    expect(new Set(sent.map((code) => describeError(new ChatError("x", { code })))).size).toBe(sent.length);
  });

  it("says how long to wait when rate limited", () => {
    expect(describeError(new ChatError("x", { code: ErrorCode.RATE_LIMITED, retryAfterMs: 2500 }))).toContain("3 s");
  });

  it("uses the close code's words for a dropped connection and plain messages otherwise", () => {
    expect(describeError(new ChatError("x", { closeCode: 4104 }))).toBe(describeClose(4104));
    expect(describeError(new ChatError("request timed out"))).toBe("request timed out");
    expect(describeError(new Error("boom"))).toBe("boom");
    expect(describeError("plain")).toBe("plain");
  });
});

describe("describeClose", () => {
  it("has words for every CloseCode and for 1006", () => {
    for (const code of [...numeric(CloseCode).filter((c) => c !== 0), 1006]) {
      expect(describeClose(code)).not.toMatch(/code \d+/);
    }
    expect(describeClose(4199)).toContain("4199");
    expect(describeClose(1012)).toContain("1012");
  });
});

describe("ChatError", () => {
  it("is an Error with the fields it was given", () => {
    const e = new ChatError("m", { code: ErrorCode.NOT_FOUND, roomCode: "K7QX2M" });
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe("ChatError");
    expect(e.code).toBe(ErrorCode.NOT_FOUND);
    expect(e.roomCode).toBe("K7QX2M");
    expect(e.closeCode).toBeUndefined();
    expect(new ChatError("m", { retryAfterMs: 0 }).retryAfterMs).toBeUndefined();
  });
});
