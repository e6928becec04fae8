// Runs one conformance case: its steps in order against the server under test, each with placeholders
// filled from the case's variables. A step that does not hold fails the case with the step's place and a
// reason; the frames, errors and close codes that passing steps observed are the case's coverage.
import { fromJson, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCodeSchema } from "../../proto/gen/es/chat/v1/error_pb.js";
import type { Case, Params, Step } from "./cases.ts";
import { TestClient, type Received } from "./client.ts";
import { match, show } from "./match.ts";
import { interpolate, type Scope, TemplateError } from "./template.ts";

export interface RunContext {
  readonly wsUrl: string;
  /** Several endpoints of one service (the nodes of a cluster): the case's k-th client, counted by first
   * connect from 0, connects to wsUrls[k mod n]. Default [wsUrl]. */
  readonly wsUrls?: ReadonlyArray<string>;
  readonly httpUrl: string;
  /** Multiplies every expectation timeout (slow machines). */
  readonly timeoutScale: number;
  /** Short random text that makes this run's names unique. */
  readonly runId: string;
  /** Position of the case in the full list, part of its unique names. */
  readonly caseIndex: number;
  /** Stops the server under test gracefully (for `shutdown` steps), when the runner was given a command. */
  readonly shutdown?: () => Promise<void>;
}

export interface Coverage {
  readonly client: Set<string>;
  readonly server: Set<string>;
  readonly errors: Set<string>;
  readonly closes: Set<number>;
}

export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly durationMs: number;
  readonly coverage: Coverage;
}

export const emptyCoverage = (): Coverage => ({ client: new Set(), server: new Set(), errors: new Set(), closes: new Set() });

export const DEFAULT_TIMEOUT_MS = 2000;
const MAX_UNIQUE_NAME = 32;

/** A step that did not hold: the case fails with this message. */
export class StepFailure extends Error {}

const clientKindName = (localName: string | undefined): string =>
  localName === undefined ? "(none)" : ClientFrameSchema.fields.find((f) => f.localName === localName)?.name ?? localName;

const closeCodeName = (code: number): string => CloseCodeSchema.values.find((v) => v.number === code)?.name ?? "not in the contract";

/** CONFORMANCE_TRACE=1 prints every step with its start time to stderr. */
const trace = process.env.CONFORMANCE_TRACE === "1";

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const asInt = (v: unknown, what: string): number => {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0) throw new StepFailure(`${what} must be a non-negative integer, got ${show(v)}`);
  return n;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Integers as text, so `5` and `"5"` (an int64 in JSON) compare equal. */
const canonical = (v: unknown): unknown => {
  if (typeof v === "number" && Number.isInteger(v)) return String(v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)]));
  return v;
};

const pickPath = (json: unknown, path: string): unknown => {
  let v: unknown = json;
  for (const part of path.split(".")) {
    if (!isObject(v)) return undefined;
    const camel = part.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    v = Object.hasOwn(v, part) ? v[part] : v[camel];
  }
  return v;
};

const summarize = (frames: ReadonlyArray<Received>): string => {
  if (frames.length === 0) return "nothing received";
  const shown = frames.slice(0, 6).map((f) => show(f.json));
  return `received and not taken: ${shown.join(", ")}${frames.length > 6 ? ` and ${frames.length - 6} more` : ""}`;
};

const hexBytes = (hex: string): Uint8Array => {
  const clean = hex.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new StepFailure(`hex must be pairs of hex digits, got ${show(hex)}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
};

export const runCase = async (kase: Case, ctx: RunContext): Promise<CaseResult> => {
  const started = Date.now();
  const coverage = emptyCoverage();
  const clients = new Map<string, TestClient>();
  /** "client\0label" -> the request id sent under that label (labels are per client). */
  const labels = new Map<string, number>();
  const vars = new Map<string, unknown>([
    ["http", ctx.httpUrl],
    ["origin", new URL(ctx.httpUrl).origin],
    ["ws_url", ctx.wsUrl],
  ]);
  const scope: Scope = {
    vars,
    unique(name) {
      const u = `${name}-${ctx.runId}${ctx.caseIndex.toString(36)}`;
      if ([...u].length > MAX_UNIQUE_NAME) throw new TemplateError(`\${unique:${name}} is longer than ${MAX_UNIQUE_NAME} characters: use a shorter name`);
      return u;
    },
  };
  const scaled = (ms: unknown, fallback = DEFAULT_TIMEOUT_MS) => (ms === undefined ? fallback : asInt(ms, "timeout_ms")) * ctx.timeoutScale;

  /** Clients whose connect step was refused as the case allowed: disconnecting them is a no-op. */
  const refused = new Set<string>();

  // Client k (by first connect) uses endpoint k mod n, also when it reconnects. `${origin}` means the
  // server's own origin, which for a client on another endpoint is that endpoint's.
  const endpoints = ctx.wsUrls && ctx.wsUrls.length > 0 ? ctx.wsUrls : [ctx.wsUrl];
  const endpointOf = new Map<string, string>();
  const endpointFor = (name: string): string => {
    let url = endpointOf.get(name);
    if (url === undefined) {
      url = endpoints[endpointOf.size % endpoints.length]!;
      endpointOf.set(name, url);
    }
    return url;
  };
  const httpOrigin = (ws: string) => {
    const u = new URL(ws);
    return `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
  };

  const clientOf = (p: Params): TestClient => {
    const name = String(p.client);
    const c = clients.get(name);
    if (!c) throw new StepFailure(`client "${name}" is not connected${refused.has(name) ? " (its upgrade was refused)" : " (add a connect step first)"}`);
    return c;
  };

  const checkViolations = (c: TestClient) => {
    if (c.violations.length > 0) throw new StepFailure(`client ${c.name}: ${c.violations[0]}`);
  };

  const noteReceived = (f: Received) => {
    coverage.server.add(f.kind);
    if (f.kind === "error") {
      const err = f.json.error as Record<string, JsonValue> | undefined;
      if (typeof err?.code === "string") coverage.errors.add(err.code);
    }
  };

  /** Builds the id constraint of an expectation from reply_to / id / push. */
  const idConstraint = (p: Params, c: TestClient): number | undefined => {
    if (p.reply_to !== undefined) {
      const id = labels.get(`${c.name}\u0000${String(p.reply_to)}`);
      if (id === undefined) throw new StepFailure(`reply_to: client ${c.name} sent nothing labelled "${String(p.reply_to)}" before`);
      return id;
    }
    if (p.id !== undefined) return asInt(p.id, "id");
    if (p.push === true) return 0;
    return undefined;
  };

  const predicate = (p: Params, c: TestClient) => {
    const id = idConstraint(p, c);
    const frame = p.frame;
    return {
      id,
      test(f: Received): { ok: true; captures: Map<string, unknown> } | { ok: false; reason: string } {
        if (id !== undefined && f.id !== id) return { ok: false, reason: `id ${f.id} is not ${id}` };
        if (frame === undefined) return { ok: true, captures: new Map() };
        return match(frame, f.json);
      },
    };
  };

  const buildFrame = (p: Params, c: TestClient) => {
    const body = p.frame;
    if (!isObject(body)) throw new StepFailure(`frame must be a mapping such as {ping: {}}, got ${show(body)}`);
    const id = p.id === undefined ? c.takeId() : asInt(p.id, "id");
    let frame;
    try {
      frame = fromJson(ClientFrameSchema, { ...(body as Record<string, JsonValue>), id });
    } catch (e) {
      throw new StepFailure(`frame is not a ClientFrame in protobuf JSON: ${(e as Error).message}`);
    }
    if (p.label !== undefined) labels.set(`${c.name}\u0000${String(p.label)}`, id);
    return { frame, id, bytes: toBinary(ClientFrameSchema, frame) };
  };

  const steps: Record<Step["action"], (raw: Params) => Promise<void>> = {
    async connect(raw) {
      const p = interpolate(raw, scope) as Params;
      const name = String(p.client);
      const existing = clients.get(name);
      if (existing?.isOpen) throw new StepFailure(`client ${name} is already connected`);
      const wanted = (Array.isArray(p.status) ? p.status : [p.status ?? 101]).map((s) => asInt(s, "status"));
      const url = endpointFor(name);
      const origin = raw.origin === "${origin}" && url !== ctx.wsUrl ? httpOrigin(url) : p.origin;
      const outcome = await TestClient.connect(name, url, {
        ...(p.token !== undefined ? { token: String(p.token) } : {}),
        ...(p.token_in !== undefined ? { tokenIn: p.token_in === "query" ? "query" : "header" } : {}),
        ...(origin !== undefined ? { origin: String(origin) } : {}),
        ...(p.path !== undefined ? { path: String(p.path) } : {}),
        ...(isObject(p.headers) ? { headers: Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k, String(v)])) } : {}),
      });
      if (outcome.ok) {
        refused.delete(name);
        clients.set(name, outcome.client);
        if (!wanted.includes(101)) throw new StepFailure(`expected the upgrade to be refused with HTTP ${wanted.join(" or ")}, but it succeeded`);
        return;
      }
      if (outcome.status === undefined || !wanted.includes(outcome.status)) {
        throw new StepFailure(`expected HTTP ${wanted.join(" or ")}, got ${outcome.status === undefined ? outcome.error : `HTTP ${outcome.status}`}`);
      }
      clients.delete(name);
      refused.add(name);
    },

    async send(raw) {
      const p = interpolate(raw, scope) as Params;
      const c = clientOf(p);
      const { frame, bytes } = buildFrame(p, c);
      c.send(bytes);
      coverage.client.add(clientKindName(frame.kind.case));
    },

    async send_raw(raw) {
      const p = interpolate(raw, scope) as Params;
      const c = clientOf(p);
      if (p.text !== undefined) return c.send(String(p.text));
      if (p.ws_ping !== undefined) return c.wsPing(String(p.ws_ping));
      let bytes: Uint8Array;
      if (p.hex !== undefined) bytes = hexBytes(String(p.hex));
      else if (p.base64 !== undefined) bytes = new Uint8Array(Buffer.from(String(p.base64), "base64"));
      else if (p.size !== undefined) bytes = new Uint8Array(asInt(p.size, "size"));
      else {
        const built = buildFrame(p, c);
        const cut = p.truncate === undefined ? 0 : asInt(p.truncate, "truncate");
        if (cut >= built.bytes.length) throw new StepFailure(`truncate ${cut} leaves nothing of a ${built.bytes.length}-byte frame`);
        bytes = built.bytes.subarray(0, built.bytes.length - cut);
      }
      c.send(bytes);
    },

    async expect(raw) {
      const p = interpolate(raw, scope) as Params;
      const c = clientOf(p);
      const pred = predicate(p, c);
      const deadline = Date.now() + scaled(p.timeout_ms);
      let lastReason = "";
      for (;;) {
        checkViolations(c);
        const candidates = p.next === true ? c.buffer.slice(0, 1) : c.buffer;
        for (let i = 0; i < candidates.length; i++) {
          const f = candidates[i]!;
          const r = pred.test(f);
          if (r.ok) {
            c.buffer.splice(i, 1);
            for (const [k, v] of r.captures) vars.set(k, v);
            noteReceived(f);
            return;
          }
          // Every request gets exactly one reply: a reply with the awaited id that does not match is final.
          if (pred.id !== undefined && pred.id !== 0 && f.id === pred.id) throw new StepFailure(`client ${c.name}: the reply ${show(f.json)} does not match: ${r.reason}`);
          if (p.next === true) throw new StepFailure(`client ${c.name}: the next frame ${show(f.json)} does not match: ${r.reason}`);
          lastReason = r.reason;
        }
        if (c.closed) throw new StepFailure(`client ${c.name}: connection closed (${c.closed.code} ${c.closed.reason}) before a matching frame arrived; ${summarize(c.buffer)}`);
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new StepFailure(`client ${c.name}: no matching frame within ${scaled(p.timeout_ms)} ms${lastReason ? ` (last mismatch: ${lastReason})` : ""}; ${summarize(c.buffer)}`);
        }
        await c.changed(left);
      }
    },

    async expect_none(raw) {
      const p = interpolate(raw, scope) as Params;
      const c = clientOf(p);
      const pred = predicate(p, c);
      const deadline = Date.now() + asInt(p.within_ms, "within_ms");
      for (;;) {
        checkViolations(c);
        const hit = c.buffer.find((f) => pred.test(f).ok);
        if (hit) throw new StepFailure(`client ${c.name}: expected no such frame, got ${show(hit.json)}`);
        const left = deadline - Date.now();
        if (left <= 0 || c.closed) return;
        await c.changed(left);
      }
    },

    async expect_close(raw) {
      const p = interpolate(raw, scope) as Params;
      const c = clientOf(p);
      const timeout = scaled(p.timeout_ms);
      const closed = await c.waitClosed(timeout);
      checkViolations(c);
      if (!closed) throw new StepFailure(`client ${c.name}: still open after ${timeout} ms; ${summarize(c.buffer)}`);
      if (p.code !== undefined) {
        const r = match(p.code, closed.code);
        if (!r.ok) throw new StepFailure(`client ${c.name}: closed with ${closed.code} (${closeCodeName(closed.code)}) "${closed.reason}", expected ${show(p.code)}`);
      }
      coverage.closes.add(closed.code);
    },

    async expect_open(raw) {
      const p = interpolate(raw, scope) as Params;
      const c = clientOf(p);
      checkViolations(c);
      if (!c.isOpen) throw new StepFailure(`client ${c.name}: expected the connection open, it ${c.closed ? `closed with ${c.closed.code} (${closeCodeName(c.closed.code)})` : "is not open"}`);
    },

    async collect(raw) {
      const p = interpolate(raw, scope) as Params;
      const c = clientOf(p);
      const count = asInt(p.count, "count");
      const pred = predicate(p, c);
      const deadline = Date.now() + scaled(p.timeout_ms);
      const out: unknown[] = [];
      while (out.length < count) {
        checkViolations(c);
        const i = c.buffer.findIndex((f) => pred.test(f).ok);
        if (i >= 0) {
          const f = c.buffer.splice(i, 1)[0]!;
          noteReceived(f);
          out.push(p.pick === undefined ? f.json : pickPath(f.json, String(p.pick)));
          continue;
        }
        if (c.closed) throw new StepFailure(`client ${c.name}: closed (${c.closed.code}) after ${out.length} of ${count} frames`);
        const left = deadline - Date.now();
        if (left <= 0) throw new StepFailure(`client ${c.name}: collected ${out.length} of ${count} frames within ${scaled(p.timeout_ms)} ms; ${summarize(c.buffer)}`);
        await c.changed(left);
      }
      vars.set(String(p.save), out);
    },

    async assert(raw) {
      const p = interpolate(raw, scope) as Params;
      if (p.equal !== undefined) {
        if (!Array.isArray(p.equal) || p.equal.length < 2) throw new StepFailure(`equal needs a list of at least two values`);
        const first = JSON.stringify(canonical(p.equal[0]));
        p.equal.forEach((v, i) => {
          if (JSON.stringify(canonical(v)) !== first) throw new StepFailure(`values differ: #1 ${show(p.equal && (p.equal as unknown[])[0])} vs #${i + 1} ${show(v)}`);
        });
      }
      if (p.sorted !== undefined) {
        if (!Array.isArray(p.sorted)) throw new StepFailure(`sorted needs a list, got ${show(p.sorted)}`);
        const list = p.by === undefined ? p.sorted : p.sorted.map((v) => pickPath(v, String(p.by)));
        const ints = list.every((v) => typeof v === "number" || (typeof v === "string" && /^-?\d+$/.test(v)));
        for (let i = 1; i < list.length; i++) {
          const [x, y] = [list[i - 1], list[i]];
          const inOrder = ints ? BigInt(x as string) <= BigInt(y as string) : String(x) <= String(y);
          if (!inOrder) throw new StepFailure(`not sorted: ${show(x)} comes before ${show(y)} in ${show(list)}`);
        }
      }
      if (p.match !== undefined) {
        const r = match(p.match, p.value);
        if (!r.ok) throw new StepFailure(`value does not match: ${r.reason}`);
        for (const [k, v] of r.captures) vars.set(k, v);
      }
    },

    async wait(raw) {
      await sleep(asInt(interpolate(raw.ms, scope), "wait"));
    },

    async disconnect(raw) {
      const p = interpolate(raw, scope) as Params;
      if (refused.has(String(p.client)) && !clients.has(String(p.client))) return;
      await clientOf(p).close(p.abort === true);
    },

    async pause(raw) {
      clientOf(interpolate(raw, scope) as Params).pause();
    },

    async resume(raw) {
      clientOf(interpolate(raw, scope) as Params).resume();
    },

    async http(raw) {
      const p = interpolate(raw, scope) as Params;
      const url = new URL(String(p.path), ctx.httpUrl);
      const headers: Record<string, string> = {};
      if (p.origin !== undefined) headers.origin = String(p.origin);
      const method = String(p.method ?? "GET").toUpperCase();
      let res: Response;
      try {
        res = await fetch(url, { method, headers, signal: AbortSignal.timeout(scaled(undefined, 5000)) });
      } catch (e) {
        throw new StepFailure(`${method} ${url.pathname}: ${(e as Error).message}`);
      }
      const body = method === "HEAD" ? "" : await res.text();
      const wanted = p.status === undefined ? [200] : (Array.isArray(p.status) ? p.status : [p.status]).map((s) => asInt(s, "status"));
      if (!wanted.includes(res.status)) throw new StepFailure(`${method} ${url.pathname}: HTTP ${res.status}, expected ${wanted.join(" or ")}`);
      const contains = p.body_contains === undefined ? [] : Array.isArray(p.body_contains) ? p.body_contains : [p.body_contains];
      for (const s of contains) if (!body.includes(String(s))) throw new StepFailure(`${method} ${url.pathname}: body does not contain ${show(s)}: ${show(body.slice(0, 300))}`);
      const without = p.body_not_contains === undefined ? [] : Array.isArray(p.body_not_contains) ? p.body_not_contains : [p.body_not_contains];
      for (const s of without) if (body.includes(String(s))) throw new StepFailure(`${method} ${url.pathname}: body contains ${show(s)}`);
      if (isObject(p.headers)) {
        const got = Object.fromEntries([...res.headers.entries()]);
        const r = match(Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), v])), got);
        if (!r.ok) throw new StepFailure(`${method} ${url.pathname}: headers ${r.reason}`);
      }
    },

    async set(raw) {
      for (const [k, v] of Object.entries(raw)) vars.set(k, interpolate(v, scope));
    },

    async group(raw) {
      await runSteps(raw.steps as Step[]);
    },

    async shutdown() {
      if (!ctx.shutdown) throw new StepFailure("the runner was not given --shutdown-command");
      await ctx.shutdown();
    },
  };

  let current = "";
  /** Runs steps in order; `repeat: N` runs a step (or a group) N times with ${i} = 1..N, `interval_ms` apart. */
  async function runSteps(list: ReadonlyArray<Step>): Promise<void> {
    for (const step of list) {
      current = step.where;
      if (trace) process.stderr.write(`  [${Date.now() - started} ms] ${step.where}\n`);
      const { repeat, interval_ms: interval, ...params } = step.params;
      const n = repeat === undefined ? 1 : asInt(interpolate(repeat, scope), "repeat");
      const gap = interval === undefined ? 0 : asInt(interpolate(interval, scope), "interval_ms");
      const outer = vars.get("i");
      for (let i = 1; i <= n; i++) {
        if (repeat !== undefined) {
          vars.set("i", i);
          current = `${step.where} #${i}`;
        }
        await steps[step.action](params);
        if (gap > 0 && i < n) await sleep(gap);
      }
      // After a repeated step, ${i} is again the enclosing group's index (if any).
      if (repeat !== undefined) {
        if (outer === undefined) vars.delete("i");
        else vars.set("i", outer);
      }
    }
  }

  let error: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const limit = kase.timeoutMs * ctx.timeoutScale;
  try {
    await Promise.race([
      (async () => {
        await runSteps(kase.steps);
        for (const c of clients.values()) checkViolations(c);
      })(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new StepFailure(`case did not finish within ${limit} ms (at ${current})`)), limit);
      }),
    ]);
  } catch (e) {
    if (e instanceof StepFailure || e instanceof TemplateError) error = `${current}: ${e.message}`;
    else error = `${current}: runner error: ${(e as Error).stack ?? String(e)}`;
  } finally {
    clearTimeout(timer);
    await Promise.all([...clients.values()].map((c) => c.close(!c.isOpen)));
  }
  return { name: kase.name, ok: error === undefined, ...(error !== undefined ? { error } : {}), durationMs: Date.now() - started, coverage };
};

