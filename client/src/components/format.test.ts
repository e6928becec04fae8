// The component's text formatters: typing line, reconnect and recovery lines, counts, avatar hue and initial.
import { describe, expect, it } from "vitest";
import { hueOf, initial, plural, reconnectLine, recoveredLine, typingLine, utf8Length } from "./format.ts";

describe("format", () => {
  it("names who is typing, in one line", () => {
    expect(typingLine([])).toBe("");
    expect(typingLine(["bob"])).toBe("bob is typing…");
    expect(typingLine(["bob", "carol"])).toBe("bob and carol are typing…");
    expect(typingLine(["bob", "carol", "dan"])).toBe("bob, carol and dan are typing…");
    expect(typingLine(["bob", "carol", "dan", "eve"])).toBe("bob, carol and 2 others are typing…");
  });

  it("counts down to the next reconnect in whole seconds", () => {
    expect(reconnectLine(10_000, 7_000)).toBe("Connection lost. Reconnecting in 3 s…");
    expect(reconnectLine(10_000, 9_100)).toBe("Connection lost. Reconnecting in 1 s…");
    expect(reconnectLine(10_000, 10_500)).toBe("Connection lost. Reconnecting…");
    expect(reconnectLine(undefined)).toBe("Connection lost. Reconnecting…");
  });

  it("says how much a reconnect recovered", () => {
    expect(recoveredLine(0)).toBe("Reconnected");
    expect(recoveredLine(1)).toBe("Reconnected — 1 missed message recovered");
    expect(recoveredLine(4)).toBe("Reconnected — 4 missed messages recovered");
    expect(plural(2, "person", "people")).toBe("2 people");
  });

  it("gives each name a stable hue and a whole-character initial", () => {
    expect(hueOf("Ada")).toBe(hueOf("ada"));
    expect(hueOf("ada")).toBeGreaterThanOrEqual(0);
    expect(hueOf("ada")).toBeLessThan(360);
    expect(new Set(["ada", "bob", "carol", "dan", "eve"].map(hueOf)).size).toBeGreaterThan(1);
    expect(initial("  émile")).toBe("É");
    expect(initial("𝒳avier")).toBe("𝒳");
    expect(initial("<img src=x>")).toBe("I");
    expect(initial("<>")).toBe("<");
    expect(initial("")).toBe("?");
  });

  it("measures text in UTF-8 bytes, as the server limits it", () => {
    expect(utf8Length("abc")).toBe(3);
    expect(utf8Length("é")).toBe(2);
    expect(utf8Length("😀")).toBe(4);
  });
});
