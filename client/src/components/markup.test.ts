// The message markup tokenizer: links only for http, https and mailto, code spans taken literally,
// strong and emphasis only where markers pair, mentions of the reader only as whole names.
import { describe, expect, it } from "vitest";
import { mentions, safeHref, tokenize } from "./markup.ts";

describe("tokenize", () => {
  it("plain text stays one text token", () => {
    expect(tokenize("hello there")).toEqual([{ kind: "text", text: "hello there" }]);
  });

  it("finds http, https and mailto links, leaving sentence punctuation outside", () => {
    expect(tokenize("see https://example.com/a?b=1.")).toEqual([
      { kind: "text", text: "see " },
      { kind: "link", href: "https://example.com/a?b=1", text: "https://example.com/a?b=1" },
      { kind: "text", text: "." },
    ]);
    expect(tokenize("(http://x.org/wiki/A_(b))")[1]).toEqual({
      kind: "link",
      href: "http://x.org/wiki/A_(b)",
      text: "http://x.org/wiki/A_(b)",
    });
    expect(tokenize("mail mailto:ada@example.com!")[1]).toMatchObject({ kind: "link", href: "mailto:ada@example.com" });
  });

  it("never links other schemes", () => {
    for (const t of [
      "javascript:alert(1)",
      "JaVaScRiPt:alert(1)",
      "data:text/html,<b>x</b>",
      "vbscript:x",
      "file:///etc/passwd",
      "java\tscript:alert(1)",
      "https://",
    ]) {
      expect(tokenize(t).some((k) => k.kind === "link")).toBe(false);
    }
    // A scheme we allow glued after a word is not a link start (no "xhttps://").
    expect(tokenize("javascript:https://evil.example").map((k) => k.kind)).toEqual(["text", "link"]);
    expect(tokenize("javascript:https://evil.example")[1]).toMatchObject({ href: "https://evil.example/" });
    expect(safeHref("javascript:alert(1)")).toBeUndefined();
    expect(safeHref("https://a.b/c")).toBe("https://a.b/c");
  });

  it("strong, emphasis and code; unpaired markers stay as typed", () => {
    expect(tokenize("a **b** *c* `d`")).toEqual([
      { kind: "text", text: "a " },
      { kind: "strong", children: [{ kind: "text", text: "b" }] },
      { kind: "text", text: " " },
      { kind: "em", children: [{ kind: "text", text: "c" }] },
      { kind: "text", text: " " },
      { kind: "code", text: "d" },
    ]);
    expect(tokenize("2 * 3 * 4")).toEqual([{ kind: "text", text: "2 * 3 * 4" }]);
    expect(tokenize("**not closed")).toEqual([{ kind: "text", text: "**not closed" }]);
    expect(tokenize("`*not em* https://x.y`")).toEqual([{ kind: "code", text: "*not em* https://x.y" }]);
    expect(tokenize("**bold *and em* here**")).toEqual([
      {
        kind: "strong",
        children: [
          { kind: "text", text: "bold " },
          { kind: "em", children: [{ kind: "text", text: "and em" }] },
          { kind: "text", text: " here" },
        ],
      },
    ]);
  });

  it("marks whole-name mentions of the reader, any case", () => {
    expect(tokenize("hi @Ada and @adam", "ada")).toEqual([
      { kind: "text", text: "hi " },
      { kind: "mention", text: "@Ada" },
      { kind: "text", text: " and @adam" },
    ]);
    expect(mentions("ping @ada.", "Ada")).toBe(true);
    expect(mentions("ping @adam", "Ada")).toBe(false);
    expect(mentions("mail x@ada", "ada")).toBe(false);
    expect(mentions("**@ada**", "ada")).toBe(true);
    expect(mentions("`@ada`", "ada")).toBe(false);
  });

  it("stays linear on long hostile input", () => {
    const text = "*".repeat(3000) + "`".repeat(1000) + "a*".repeat(2000);
    const t0 = performance.now();
    tokenize(text, "ada");
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
