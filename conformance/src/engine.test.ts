// The step engine and the CLI against a real server in-process: passing steps record coverage, a step
// that does not hold fails its case with the place and the reason, and the CLI's known-failing list and
// exit status behave as documented.
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../../server/src/testing.ts";
import { loadCases, parseCases } from "./cases.ts";
import { runCase } from "./engine.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startServer({
    heartbeatIntervalMs: 200,
    heartbeatTimeoutMs: 1000,
    authTimeoutMs: 800,
    maxViolations: 3,
    registerPerIpPerMin: 10_000,
  });
});
afterAll(async () => {
  await server?.close();
});

let index = 0;
const run = async (yaml: string) => {
  const [kase] = parseCases(yaml, "test.yaml");
  return runCase(kase!, { wsUrl: server.wsUrl, httpUrl: server.httpUrl, timeoutScale: 1, runId: "t", caseIndex: index++ });
};

const register = `
    - connect: a
    - send: {client: a, label: reg, frame: {register: {username: "\${unique:ada}", password: "pw-123456789"}}}
    - expect: {client: a, reply_to: reg, frame: {auth_ok: {username: "\${unique:ada}"}}}`;

describe("runCase", () => {
  it("passes a case whose steps hold and records what it exercised", async () => {
    const r = await run(`
- name: t/pass
  steps:${register}
    - send: {client: a, label: create, frame: {create_room: {}}}
    - expect: {client: a, reply_to: create, frame: {room_joined: {room: {code: {$save: room}}}}}
    - send: {client: a, label: msg, frame: {send_message: {room_code: "\${room}", client_message_id: "m", text: "hi"}}}
    - expect: {client: a, frame: {message: {room_code: "\${room}", seq: 1}}}
    - expect: {client: a, reply_to: msg, frame: {send_ack: {seq: 1}}}
    - send: {client: a, label: nope, frame: {join_room: {code: "222222"}}}
    - expect: {client: a, reply_to: nope, frame: {error: {code: NOT_FOUND}}}
    - send_raw: {client: a, text: "x"}
    - expect_close: {client: a, code: 1003}
`);
    expect(r.error).toBeUndefined();
    expect(r.ok).toBe(true);
    expect([...r.coverage.client].sort()).toEqual(["create_room", "join_room", "register", "send_message"]);
    expect(r.coverage.server).toEqual(new Set(["auth_ok", "room_joined", "message", "send_ack", "error"]));
    expect(r.coverage.errors).toEqual(new Set(["ERROR_CODE_NOT_FOUND"]));
    expect(r.coverage.closes).toEqual(new Set([1003]));
  });

  it("fails at once when the awaited reply does not match, naming the step and field", async () => {
    const started = Date.now();
    const r = await run(`
- name: t/wrong-reply
  steps:${register}
    - send: {client: a, label: create, frame: {create_room: {}}}
    - expect: {client: a, reply_to: create, timeout_ms: 5000, frame: {room_joined: {member_count: 2}}}
`);
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(
      /t\/wrong-reply > step 5 \(expect\): client a: the reply .* does not match: \$\.room_joined\.member_count: expected 2, got 1/,
    );
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("fails an expectation that times out, listing what did arrive", async () => {
    const r = await run(`
- name: t/timeout
  steps:${register}
    - send: {client: a, label: p, frame: {ping: {nonce: 5}}}
    - expect: {client: a, timeout_ms: 300, frame: {pong: {nonce: 6}}}
`);
    expect(r.error).toMatch(/no matching frame within 300 ms .*received and not taken: \{"id":2,"pong"/);
  });

  it("leaves unmatched frames buffered for later steps and matches by content in any order", async () => {
    const r = await run(`
- name: t/buffered
  steps:${register}
    - send: {client: a, label: p1, frame: {ping: {nonce: 1}}}
    - send: {client: a, label: p2, frame: {ping: {nonce: 2}}}
    - expect: {client: a, frame: {pong: {nonce: 2}}}
    - expect: {client: a, reply_to: p1, frame: {pong: {nonce: 1}}}
    - expect_none: {client: a, frame: {pong: {}}, within_ms: 100}
`);
    expect(r.error).toBeUndefined();
  });

  it("fails expect_none when such a frame arrives, and expect_close on another code", async () => {
    const none = await run(`
- name: t/none
  steps:${register}
    - send: {client: a, frame: {ping: {}}}
    - expect_none: {client: a, frame: {pong: {}}, within_ms: 500}
`);
    expect(none.error).toMatch(/expected no such frame, got \{"id":2,"pong"/);
    const close = await run(`
- name: t/close
  steps:
    - connect: a
    - send: {client: a, frame: {list_rooms: {}}}
    - expect_close: {client: a, code: 4100}
`);
    expect(close.error).toMatch(/closed with 4101 \(CLOSE_CODE_NOT_AUTHENTICATED\)/);
    expect(close.coverage.closes.size).toBe(0);
  });

  it("checks HTTP statuses of upgrades and endpoints", async () => {
    const ok = await run(`
- name: t/http
  steps:
    - connect: {client: a, token: "bogus", status: 401}
    - http: {path: /healthz, body_contains: '"status":"ok"'}
`);
    expect(ok.error).toBeUndefined();
    const bad = await run(`
- name: t/http-bad
  steps:
    - connect: {client: a, status: 401}
`);
    expect(bad.error).toMatch(/expected the upgrade to be refused with HTTP 401, but it succeeded/);
  });

  it("compares collected values across clients with assert", async () => {
    const r = await run(`
- name: t/assert
  steps:${register}
    - send: {client: a, repeat: 3, frame: {ping: {nonce: "\${i}"}}}
    - collect: {client: a, frame: {pong: {}}, count: 3, pick: pong.nonce, save: nonces}
    - assert: {value: "\${nonces}", match: [1, 2, 3]}
    - assert: {sorted: "\${nonces}"}
    - set: {other: ["1", "2", "4"]}
    - assert: {equal: ["\${nonces}", "\${other}"]}
`);
    expect(r.error).toMatch(/step 9 \(assert\): values differ: #1 \["1","2","3"\] vs #2 \["1","2","4"\]/);
  });
});

describe("groups", () => {
  it("repeat a sequence of steps per index, restoring the outer index after an inner repeat", async () => {
    const r = await run(`
- name: t/group
  steps:
    - group:
        repeat: 2
        steps:
          - connect: "c\${i}"
          - set: {me: "c\${i}"}
          - send: {client: "\${me}", repeat: 3, frame: {ping: {nonce: "\${i}"}}}
          - collect: {client: "c\${i}", frame: {pong: {}}, count: 3, pick: pong.nonce, save: "n\${i}"}
    - assert: {value: "\${n1}", match: [1, 2, 3]}
    - assert: {value: "\${n2}", match: [1, 2, 3]}
`);
    expect(r.error).toBeUndefined();
  });
});

describe("several endpoints", () => {
  it("puts a case's k-th client on endpoint k mod n, with ${origin} meaning that endpoint's own origin", async () => {
    // Two unrelated servers: a username registered on the first is still free on the second.
    const other = await startServer({ registerPerIpPerMin: 10_000 });
    try {
      const [kase] = parseCases(
        `
- name: t/endpoints
  steps:
    - connect: {client: a, origin: "\${origin}"}
    - connect: {client: b, origin: "\${origin}"}
    - connect: {client: c}
    - send: {client: a, label: reg, frame: {register: {username: "\${unique:ep}", password: "pw-123456789"}}}
    - expect: {client: a, reply_to: reg, frame: {auth_ok: {}}}
    - send: {client: b, label: reg, frame: {register: {username: "\${unique:ep}", password: "pw-123456789"}}}
    - expect: {client: b, reply_to: reg, frame: {auth_ok: {}}}
    - send: {client: c, label: reg, frame: {register: {username: "\${unique:ep}", password: "pw-123456789"}}}
    - expect: {client: c, reply_to: reg, frame: {error: {code: USERNAME_TAKEN}}}
`,
        "test.yaml",
      );
      const r = await runCase(kase!, {
        wsUrl: server.wsUrl,
        wsUrls: [server.wsUrl, other.wsUrl],
        httpUrl: server.httpUrl,
        timeoutScale: 1,
        runId: "t",
        caseIndex: index++,
      });
      expect(r.error).toBeUndefined();
      expect(r.ok).toBe(true);
    } finally {
      await other.close();
    }
  });
});

describe("the CLI", () => {
  const cli = new URL("./cli.ts", import.meta.url).pathname;
  const node = process.execPath;

  const runCli = async (cases: string, extra: string[] = []) => {
    const dir = mkdtempSync(join(tmpdir(), "conformance-cli-"));
    writeFileSync(join(dir, "t.yaml"), cases);
    try {
      const { stdout } = await promisify(execFile)(node, [cli, "--url", server.wsUrl, "--cases", dir, "--run", "*", ...extra]);
      return { code: 0, stdout };
    } catch (e) {
      const err = e as { code: number; stdout: string };
      return { code: err.code, stdout: err.stdout };
    }
  };
  const cases = `
- name: t/passes
  steps: [{http: {path: /healthz}}]
- name: t/fails
  steps: [{http: {path: /healthz, status: 500}}]
`;

  it("prints a line per case and the summary, and exits non-zero on a failure", async () => {
    const r = await runCli(cases);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ok {3}t\/passes \(\d+ ms\)$/m);
    expect(r.stdout).toMatch(/^FAIL t\/fails \(\d+ ms\): .*HTTP 200, expected 500$/m);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe("1 passed, 1 failed");
  });

  it("does not count a known failure, and fails a known failure that passes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conformance-known-"));
    const known = join(dir, "known.txt");
    writeFileSync(known, "t/fails  # the endpoint cannot fail\n");
    const r = await runCli(cases, ["--known-failing", known]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^known-fail t\/fails/m);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toBe("1 passed, 0 failed");

    writeFileSync(known, "t/passes  # pretend it is broken\n");
    const fixed = await runCli(cases, ["--known-failing", known, "--skip", "t/fails"]);
    expect(fixed.code).toBe(1);
    expect(fixed.stdout).toMatch(/^FAIL t\/passes .*known failing .* but passed: fixed\? remove it from the list$/m);
  });

  it("--list prints every case of the suite, one per line", async () => {
    const { stdout } = await promisify(execFile)(node, [cli, "--list"]);
    const listed = stdout
      .trimEnd()
      .split("\n")
      .map((l) => l.split("  — ")[0]);
    expect(listed).toEqual(loadCases(new URL("../cases", import.meta.url).pathname).map((c) => c.name));
  });

  it("refuses to run a case file that does not fit the schema, naming the place, before contacting the server", async () => {
    const r = await runCli(`- name: t/bad\n  steps:\n    - http: {path: /healthz}\n    - expect: {client: a, frame: {pong: {nonse: 1}}}\n`);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const dir = mkdtempSync(join(tmpdir(), "conformance-bad-"));
    writeFileSync(join(dir, "t.yaml"), `- name: t/bad\n  steps: [{send: {client: a}}]\n`);
    const err = await promisify(execFile)(node, [cli, "--url", server.wsUrl, "--cases", dir]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(err).toMatchObject({ code: 2, stderr: `conformance: t.yaml: t/bad > step 1 (send): "frame" is required\n` });
  });
});
