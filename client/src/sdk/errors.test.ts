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

describe("describeError says only what applies to the request", () => {
  const refused = (code: ErrorCode, request: string) => describeError(new ChatError("x", { code, request }));

  it("a wrong password is not an ended session, and an ended session is not a wrong password", () => {
    expect(refused(ErrorCode.UNAUTHENTICATED, "login")).toBe("Wrong username or password.");
    expect(refused(ErrorCode.UNAUTHENTICATED, "resume")).toBe("Your session has ended. Please log in again.");
    expect(refused(ErrorCode.UNAUTHENTICATED, "login")).not.toMatch(/session/);
    expect(refused(ErrorCode.UNAUTHENTICATED, "resume")).not.toMatch(/password/);
  });

  it("a missing room speaks of the room, a missing user of the user", () => {
    expect(refused(ErrorCode.NOT_FOUND, "joinRoom")).toBe("No room has that code. Check the code and try again.");
    expect(refused(ErrorCode.NOT_FOUND, "sendMessage")).toBe("That room no longer exists.");
    expect(refused(ErrorCode.NOT_FOUND, "sendDirect")).toBe("No user has that name. Check the username.");
    for (const r of ["joinRoom", "history", "sendMessage"]) expect(refused(ErrorCode.NOT_FOUND, r)).not.toMatch(/user/);
    expect(refused(ErrorCode.NOT_FOUND, "directHistory")).not.toMatch(/room/);
  });

  it("the context can be given by the caller, and the error's own request wins", () => {
    expect(describeError(new ChatError("x", { code: ErrorCode.NOT_FOUND }), "joinRoom")).toMatch(/No room/);
    expect(describeError(new ChatError("x", { code: ErrorCode.NOT_FOUND, request: "sendDirect" }), "joinRoom")).toMatch(/No user/);
  });
});
