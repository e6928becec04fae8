// Loading cases: the case files of the suite are valid, and malformed cases fail to load with their place.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KINDS } from "./case-schema.ts";
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

describe("the case schema", () => {
  const one = (steps: string) => `- name: area/case\n  steps:\n${steps}`;
  /** The load error of a case file, which must fail. */
  const errorOf = (yaml: string): string => {
    try {
      parseCases(yaml, "f.yaml");
    } catch (e) {
      expect(e).toBeInstanceOf(CaseError);
      return (e as Error).message;
    }
    throw new Error("the case file loaded");
  };

  it("names the file, case, step, kind and parameter of a missing, unknown or mistyped parameter", () => {
    expect(errorOf(one(`    - connect: a\n    - send: {client: a}\n`))).toBe(`f.yaml: area/case > step 2 (send): "frame" is required`);
    expect(errorOf(one(`    - send: {client: a, frame: {ping: {}}, lable: x}\n`))).toBe(
      `f.yaml: area/case > step 1 (send): unknown parameter "lable" (known: client, frame, id, label, repeat, interval_ms)`,
    );
    expect(errorOf(one(`    - collect: {client: a, frame: {pong: {}}, count: -1, save: n}\n`))).toBe(
      "f.yaml: area/case > step 1 (collect): count: Expected a non-negative integer (or a ${...} placeholder)",
    );
    expect(errorOf(one(`    - connect: {client: a, status: [101, "x"]}\n`))).toBe(
      "f.yaml: area/case > step 1 (connect): status: Expected a non-negative integer or a non-empty list of them",
    );
    expect(errorOf(one(`    - connect: {client: a, token_in: body}\n`))).toBe(
      `f.yaml: area/case > step 1 (connect): token_in: Expected "header" | "query"`,
    );
    expect(errorOf(one(`    - send_raw: {client: a, hex: 00}\n`))).toBe(
      "f.yaml: area/case > step 1 (send_raw): hex: Expected a string (quote it in YAML)",
    );
    expect(errorOf(one(`    - expect: {client: a, push: "yes"}\n`))).toBe(
      "f.yaml: area/case > step 1 (expect): push: Expected true or false",
    );
    expect(errorOf(one(`    - send: a\n`))).toBe("f.yaml: area/case > step 1 (send): expected a mapping of parameters");
    expect(errorOf(one(`    - connect: a\n      wait: 1\n`))).toMatch(
      /^f\.yaml: area\/case > step 1: a step is a mapping with exactly one action key/,
    );
  });

  it("reports every problem of a step, and the nested place of a step in a group", () => {
    expect(errorOf(one(`    - expect_close: {client: 1, code: {$foo: 1}, timeout: 5}\n`))).toBe(
      `f.yaml: area/case > step 1 (expect_close): unknown parameter "timeout" (known: client, code, timeout_ms, repeat, interval_ms); client: Expected a string (quote it in YAML); code: $: unknown operator $foo`,
    );
    expect(errorOf(one(`    - wait: 1\n    - group: {repeat: 2, steps: [{wait: 1}, {conect: a}]}\n`))).toMatch(
      /^f\.yaml: area\/case > step 2 > 2: unknown action "conect" \(known: connect, send, /,
    );
    expect(errorOf(one(`    - group: {steps: [{group: {steps: [{wait: x}]}}]}\n`))).toBe(
      "f.yaml: area/case > step 1 > 1 > 1 (wait): ms: Expected a non-negative integer (or a ${...} placeholder)",
    );
    expect(errorOf(one(`    - group: {steps: []}\n`))).toBe(
      "f.yaml: area/case > step 1 (group): steps: Expected a non-empty list of steps",
    );
  });

  it("checks the rules between parameters", () => {
    expect(errorOf(one(`    - send_raw: {client: a, hex: "00", text: "x"}\n`))).toBe(
      "f.yaml: area/case > step 1 (send_raw): give exactly one of hex, base64, text, size, frame, ws_ping (got hex, text)",
    );
    expect(errorOf(one(`    - send_raw: {client: a, size: 3, truncate: 1}\n`))).toBe(
      "f.yaml: area/case > step 1 (send_raw): truncate: truncate goes with frame",
    );
    expect(errorOf(one(`    - expect: {client: a, timeout_ms: 10}\n`))).toBe(
      "f.yaml: area/case > step 1 (expect): give at least one of frame, reply_to, id, push",
    );
    expect(errorOf(one(`    - assert: {match: 1}\n`))).toBe("f.yaml: area/case > step 1 (assert): value: match needs the value to compare");
    expect(errorOf(one(`    - assert: {equal: [1]}\n`))).toBe(
      "f.yaml: area/case > step 1 (assert): equal: Expected a list of at least 2 values (or a ${...} placeholder holding one)",
    );
    expect(errorOf(one(`    - set: {"1x": 1, repeat: 2}\n`))).toBe(
      "f.yaml: area/case > step 1 (set): 1x: not a variable name (letters, digits, _ . -; not starting with a digit); repeat: set cannot repeat: put it in a group",
    );
  });

  it("checks frames against the contract: fields at every level, enum names, no id in a frame to send", () => {
    expect(errorOf(one(`    - expect: {client: a, frame: {room_joined: {memebr_count: 2}}}\n`))).toBe(
      "f.yaml: area/case > step 1 (expect): frame.room_joined.memebr_count: not a field of chat.v1.RoomJoined (room, members, member_count, last_seq)",
    );
    expect(errorOf(one(`    - expect: {client: a, frame: {roomJoined: {members: {$contains: [{usernme: x}]}}}}\n`))).toBe(
      "f.yaml: area/case > step 1 (expect): frame.roomJoined.members.$contains[0].usernme: not a field of chat.v1.Member (username)",
    );
    expect(errorOf(one(`    - expect: {client: a, frame: {error: {code: NOT_FUOND}}}\n`))).toMatch(
      /^f\.yaml: area\/case > step 1 \(expect\): frame\.error\.code: not a value of chat\.v1\.ErrorCode \(ERROR_CODE_UNSPECIFIED, /,
    );
    expect(errorOf(one(`    - expect: {client: a, frame: {roomjoined: {}}}\n`))).toMatch(
      /^f\.yaml: area\/case > step 1 \(expect\): frame\.roomjoined: not a field of chat\.v1\.ServerFrame \(id, /,
    );
    expect(errorOf(one(`    - expect: {client: a, frame: {pong: {nonce: {$gtt: 1}}}}\n`))).toBe(
      "f.yaml: area/case > step 1 (expect): frame: $.pong.nonce: unknown operator $gtt",
    );
    // Sent frames are protobuf JSON, where an enum is its full name.
    expect(errorOf(one(`    - send: {client: a, frame: {history: {room_code: x, direction: FORWARD}}}\n`))).toBe(
      "f.yaml: area/case > step 1 (send): frame.history.direction: not a value of chat.v1.HistoryDirection (HISTORY_DIRECTION_UNSPECIFIED, HISTORY_DIRECTION_BACKWARD, HISTORY_DIRECTION_FORWARD)",
    );
    expect(errorOf(one(`    - send: {client: a, frame: {id: 3, ping: {}}}\n`))).toBe(
      "f.yaml: area/case > step 1 (send): frame.id: the id is the step's id parameter, not part of frame",
    );
  });

  it("checks the case itself, naming it when it has a name", () => {
    expect(errorOf(`- name: a/b\n  timeout_ms: 0\n  steps: [{wait: 1}]\n  extra: 1\n`)).toBe(
      `f.yaml: a/b: unknown key "extra" (known: name, description, requires, timeout_ms, steps); timeout_ms: must be a positive number of milliseconds`,
    );
    expect(errorOf(`- name: Not_Kebab\n  steps: [{wait: 1}]\n`)).toBe(
      `f.yaml: Not_Kebab: name: must be a kebab-case path like "auth/bad-password"`,
    );
    expect(errorOf(`- steps: [{wait: 1}]\n`)).toBe(`f.yaml: case #1: "name" is required`);
    expect(errorOf(`- name: a/b\n  requires: [cluster]\n  steps: [{wait: 1}]\n`)).toBe(`f.yaml: a/b: requires[0]: Expected "shutdown"`);
    expect(errorOf(`- name: a/b\n  steps: [{wait: 1}\n`)).toMatch(/^f\.yaml: /);
  });

  it("accepts placeholders and digit strings where integers go, and decodes shorthands", () => {
    const [c] = parseCases(
      one(`    - set: {n: 2}\n    - wait: "5"\n    - connect: {client: "c\${n}", repeat: "\${n}", status: ["\${n}", 101]}\n`),
      "f.yaml",
    );
    expect(c!.steps.map((s) => s.kind)).toEqual(["set", "wait", "connect"]);
    expect(c!.steps[2]).toMatchObject({ kind: "connect", repeat: "${n}", params: { client: "c${n}", status: ["${n}", 101] } });
  });

  it("has the step kinds the README documents, no more and no fewer", async () => {
    const { readFileSync } = await import("node:fs");
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
    const table = readme.slice(readme.indexOf("### Steps"), readme.indexOf("### Matching frames"));
    const documented = [...table.matchAll(/^\| ([^|]+) \|/gm)].flatMap((m) => [...m[1]!.matchAll(/`([a-z_]+)`/g)].map((k) => k[1]!));
    expect(new Set(documented)).toEqual(new Set(KINDS));
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
