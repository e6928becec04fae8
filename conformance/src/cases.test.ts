// Loading cases: the case files of the suite are valid, and malformed cases fail to load with their place.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CaseError, globToRegExp, loadCases, parseCases, parseReasonList } from "./cases.ts";
import { allKeys } from "./coverage.ts";

const casesDir = new URL("../cases", import.meta.url).pathname;

describe("the suite's case files", () => {
  it("load, with unique kebab-path names in one file per area", () => {
    const cases = loadCases(casesDir);
    expect(cases.length).toBeGreaterThan(80);
    for (const c of cases) expect(c.file).toBe(`${c.name.split("/")[0]}.yaml`);
  });

  it("list only real kinds and codes as untestable, each with a reason", async () => {
    const { readFileSync } = await import("node:fs");
    const list = parseReasonList(readFileSync(new URL("../untestable.txt", import.meta.url), "utf8"), "untestable.txt");
    const keys = allKeys();
    for (const [key, why] of list) {
      expect(keys.has(key), key).toBe(true);
      expect(why.length).toBeGreaterThan(10);
    }
  });
});

describe("parseCases", () => {
  const one = (steps: string) => `- name: area/case\n  steps:\n${steps}`;

  it("reads steps, scalar shorthands and repeat", () => {
    const [c] = parseCases(one(`    - connect: a\n    - send: {client: a, repeat: 3, frame: {ping: {}}}\n    - wait: 10\n`), "f.yaml");
    expect(c!.steps.map((s) => [s.kind, s.kind === "group" ? s.steps : s.params, s.repeat])).toEqual([
      ["connect", { client: "a" }, undefined],
      ["send", { client: "a", repeat: 3, frame: { ping: {} } }, 3],
      ["wait", { ms: 10 }, undefined],
    ]);
  });

  it("rejects unknown actions, unknown or missing parameters and bad names, naming the place", () => {
    expect(() => parseCases(one(`    - conect: a\n`), "f.yaml")).toThrow(/f\.yaml: area\/case > step 1: unknown action "conect"/);
    expect(() => parseCases(one(`    - send: {client: a, frame: {}, lable: x}\n`), "f.yaml")).toThrow(/unknown parameter "lable"/);
    expect(() => parseCases(one(`    - send: {client: a}\n`), "f.yaml")).toThrow(/"frame" is required/);
    expect(() => parseCases(one(`    - expect: {client: a, frame: {x: {$gtt: 1}}}\n`), "f.yaml")).toThrow(/unknown operator \$gtt/);
    expect(() => parseCases(one(`    - send_raw: {client: a, hex: "00", text: "x"}\n`), "f.yaml")).toThrow(/exactly one of/);
    expect(() => parseCases(`- name: Not_Kebab\n  steps: [{wait: 1}]\n`, "f.yaml")).toThrow(CaseError);
    expect(() => parseCases(`- name: area/x\n  steps: [{shutdown: {}}]\n`, "f.yaml")).toThrow(/requires: \[shutdown\]/);
  });

  it("rejects a name defined twice across files", () => {
    const dir = mkdtempSync(join(tmpdir(), "conformance-cases-"));
    writeFileSync(join(dir, "a.yaml"), `- name: a/x\n  steps: [{wait: 1}]\n`);
    writeFileSync(join(dir, "b.yaml"), `- name: a/x\n  steps: [{wait: 1}]\n`);
    expect(() => loadCases(dir)).toThrow(/defined twice/);
  });
});

describe("globs and reason lists", () => {
  it("matches names with * across slashes and ? for one character", () => {
    expect(globToRegExp("rooms/*").test("rooms/join-by-code")).toBe(true);
    expect(globToRegExp("*expire*").test("rooms/expire-when-empty")).toBe(true);
    expect(globToRegExp("auth/login").test("auth/login-throttled")).toBe(false);
    expect(globToRegExp("auth/logi?").test("auth/login")).toBe(true);
  });

  it("needs a reason on every line", () => {
    expect(parseReasonList("# comment\n\nrooms/x  # flaky on ipv6\n", "k.txt")).toEqual(new Map([["rooms/x", "flaky on ipv6"]]));
    expect(() => parseReasonList("rooms/x\n", "k.txt")).toThrow(/k\.txt:1/);
  });
});
