// Placeholders in case data: unique names, saved values keeping their type, arithmetic, filters, repeats.
import { describe, expect, it } from "vitest";
import { hasPlaceholder, interpolate, interpolateString, type Scope, TemplateError } from "./template.ts";

const scope = (vars: Record<string, unknown> = {}): Scope => ({
  vars: new Map(Object.entries(vars)),
  unique: (name) => `${name}-run7`,
});

describe("interpolate", () => {
  it("replaces unique names, the same within a scope", () => {
    expect(interpolateString("${unique:alice}", scope())).toBe("alice-run7");
    expect(interpolateString("hi ${unique:alice} and ${unique:bob}", scope())).toBe("hi alice-run7 and bob-run7");
  });

  it("keeps a saved value's type when the string is exactly one placeholder", () => {
    const s = scope({ seqs: [1, 2], n: 5, code: "K7QX2M" });
    expect(interpolateString("${seqs}", s)).toEqual([1, 2]);
    expect(interpolateString("${n}", s)).toBe(5);
    expect(interpolateString("room ${code} has ${seqs}", s)).toBe("room K7QX2M has [1,2]");
  });

  it("does integer arithmetic on numbers and int64 strings", () => {
    const s = scope({ seq: "9007199254740993", n: 5 });
    expect(interpolateString("${seq+1}", s)).toBe("9007199254740994");
    expect(interpolateString("${n-2}", s)).toBe(3);
    expect(() => interpolateString("${code+1}", scope({ code: "abc" }))).toThrow(TemplateError);
  });

  it("applies filters and repeats", () => {
    const s = scope({ code: "K7QX2M", list: [1, 2, 3] });
    expect(interpolateString("${code|lower}", s)).toBe("k7qx2m");
    expect(interpolateString("${unique:bob|upper}", s)).toBe("BOB-RUN7");
    expect(interpolateString("${list|len}", s)).toBe(3);
    expect(interpolateString("${repeat:3:ab}", s)).toBe("ababab");
    expect((interpolateString("${repeat:4097:x}", s) as string).length).toBe(4097);
    expect(() => interpolateString("${code|reverse}", s)).toThrow(/unknown filter/);
  });

  it("fails on an undefined variable and leaves $${ as a literal", () => {
    expect(() => interpolateString("${nope}", scope())).toThrow(/undefined variable "nope"/);
    expect(interpolateString("cost: $${x}", scope())).toBe("cost: ${x}");
  });

  it("walks objects and lists but leaves keys alone", () => {
    const s = scope({ room: "ABC234" });
    expect(interpolate({ "${room}": ["${room}", { code: "${room}" }], n: 1 }, s)).toEqual({
      "${room}": ["ABC234", { code: "ABC234" }],
      n: 1,
    });
  });

  it("tells a placeholder (whose value comes when the step runs) from a literal $${", () => {
    expect(hasPlaceholder("${n}")).toBe(true);
    expect(hasPlaceholder("c${i}-x")).toBe(true);
    expect(hasPlaceholder("cost: $${x}")).toBe(false);
    expect(hasPlaceholder("42")).toBe(false);
  });
});
