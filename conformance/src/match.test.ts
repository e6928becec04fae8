// The frame matcher: partial objects, exact lists, integer and enum coercions, operators and captures.
import { describe, expect, it } from "vitest";
import { match, MatcherError, validateMatcher } from "./match.ts";

const frame = {
  id: 3,
  room_joined: {
    room: { code: "K7QX2M", name: "", persistent: false, created_by: "ada", created_at_ms: "1764040000123" },
    members: [{ username: "ada" }, { username: "bob" }],
    member_count: 2,
    last_seq: "0",
  },
};

const ok = (expected: unknown, actual: unknown = frame) => {
  const r = match(expected, actual);
  if (!r.ok) throw new Error(r.reason);
  return r.captures;
};
const reason = (expected: unknown, actual: unknown = frame) => {
  const r = match(expected, actual);
  if (r.ok) throw new Error("matched");
  return r.reason;
};

describe("match", () => {
  it("matches objects partially and names the path of a mismatch", () => {
    ok({ room_joined: { member_count: 2 } });
    ok({ room_joined: {} });
    expect(reason({ room_joined: { member_count: 3 } })).toBe("$.room_joined.member_count: expected 3, got 2");
    expect(reason({ error: {} })).toMatch(/^\$\.error: missing/);
  });

  it("compares integers across numbers and int64 strings", () => {
    ok({ room_joined: { last_seq: 0, room: { created_at_ms: 1764040000123 } } });
    ok({ id: "3" });
    expect(reason({ room_joined: { last_seq: 1 } })).toMatch(/expected 1, got "0"/);
  });

  it("accepts enum values by full name or without the enum prefix", () => {
    const err = { error: { code: "ERROR_CODE_NOT_FOUND" } };
    ok({ error: { code: "NOT_FOUND" } }, err);
    ok({ error: { code: "ERROR_CODE_NOT_FOUND" } }, err);
    expect(match({ error: { code: "FOUND" } }, err).ok).toBe(false);
    expect(match({ error: { code: "NOT_MEMBER" } }, err).ok).toBe(false);
  });

  it("accepts camelCase keys for snake_case fields", () => {
    ok({ roomJoined: { memberCount: 2, lastSeq: 0 } });
  });

  it("matches lists element by element with the same length", () => {
    ok({ room_joined: { members: [{ username: "ada" }, { username: "bob" }] } });
    expect(reason({ room_joined: { members: [{ username: "ada" }] } })).toMatch(/expected 1 elements, got 2/);
    expect(reason({ room_joined: { members: [{ username: "bob" }, { username: "ada" }] } })).toMatch(/members\[0\]\.username/);
  });

  it("saves captured values only when the whole match holds", () => {
    expect(ok({ room_joined: { room: { code: { $save: "room" } } } })).toEqual(new Map([["room", "K7QX2M"]]));
    expect(match({ room_joined: { room: { code: { $save: "room" } }, member_count: 9 } }, frame).ok).toBe(false);
  });

  it("supports the comparison and shape operators", () => {
    ok({ room_joined: { room: { code: { $regex: "^[2-9A-HJ-NP-Z]{6}$" } } } });
    expect(reason({ room_joined: { room: { code: { $regex: "^x" } } } })).toMatch(/matching \/\^x\//);
    ok({ room_joined: { member_count: { $gt: 1, $lte: 2 }, room: { created_at_ms: { $gte: "1764040000123" } } } });
    expect(reason({ room_joined: { member_count: { $lt: 2 } } })).toMatch(/expected lt 2, got 2/);
    ok({ room_joined: { room: { code: { $ne: "AAAAAA" } } } });
    expect(match({ room_joined: { room: { code: { $ne: "K7QX2M" } } } }, frame).ok).toBe(false);
    ok({ room_joined: { member_count: { $one_of: [1, 2] } } });
    ok({ room_joined: { members: { $len: 2 } } });
    ok({ room_joined: { members: { $len: { $gt: 1 } } } });
    ok({ room_joined: { members: { $each: { username: { $regex: "^[a-z]+$" } } } } });
    ok({ room_joined: { room: { name: { $absent: true } } } });
    expect(match({ room_joined: { room: { code: { $absent: true } } } }, frame).ok).toBe(false);
    ok({ room_joined: { $any: true } });
    ok({ room_joined: { members: { $not: { $contains: [{ username: "eve" }] } } } });
  });

  it("$contains needs a distinct element for each wanted one, in any order", () => {
    ok({ room_joined: { members: { $contains: [{ username: "bob" }, { username: "ada" }] } } });
    expect(match({ room_joined: { members: { $contains: [{ username: "ada" }, { username: "ada" }] } } }, frame).ok).toBe(false);
    const caps = ok({ room_joined: { members: { $contains: [{ username: { $save: "who" } }] } } });
    expect(caps.get("who")).toBe("ada");
  });

  it("rejects unknown operators and bad regular expressions when cases load", () => {
    expect(() => validateMatcher({ a: { $gtt: 1 } })).toThrow(MatcherError);
    expect(() => validateMatcher({ a: { $regex: "(" } })).toThrow(SyntaxError);
    expect(() => match({ $nope: 1 }, 1)).toThrow(MatcherError);
  });
});
