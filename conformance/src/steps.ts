// One function per step kind of the case format (case-schema.ts), each over the case's CaseContext and its
// decoded parameters. A step that does not hold throws StepFailure; placeholders are filled as it starts.
import { CloseCodeSchema } from "../../proto/gen/es/chat/v1/error_pb.js";
import type { IntOrList, Params, TextOrList } from "./case-schema.ts";
import { TestClient } from "./client.ts";
import { type CaseContext, isObject, pickPath, sleep, StepFailure, summarize } from "./context.ts";
import { match, show } from "./match.ts";

const closeCodeName = (code: number): string => CloseCodeSchema.values.find((v) => v.number === code)?.name ?? "not in the contract";

/** Integers as text, so `5` and `"5"` (an int64 in JSON) compare equal. */
const canonical = (v: unknown): unknown => {
  if (typeof v === "number" && Number.isInteger(v)) return String(v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v))
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
};

const hexBytes = (hex: string): Uint8Array => {
  const clean = hex.replace(/\s+/g, "");
  if (!/^([0-9a-fA-F]{2})*$/.test(clean)) throw new StepFailure(`hex must be pairs of hex digits, got ${show(hex)}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => parseInt(b, 16));
};

const statuses = (ctx: CaseContext, p: IntOrList | undefined, fallback: number): number[] =>
  p === undefined ? [fallback] : (Array.isArray(p) ? p : [p]).map((s) => ctx.int(s, "status"));

const texts = (ctx: CaseContext, p: TextOrList | undefined): string[] =>
  (p === undefined ? [] : Array.isArray(p) ? p : [p]).map((s) => ctx.text(s));

const httpOrigin = (ws: string) => {
  const u = new URL(ws);
  return `${u.protocol === "wss:" ? "https:" : "http:"}//${u.host}`;
};

export const connect = async (ctx: CaseContext, p: Params<"connect">): Promise<void> => {
  const name = ctx.text(p.client);
  if (ctx.clients.get(name)?.isOpen) throw new StepFailure(`client ${name} is already connected`);
  const wanted = statuses(ctx, p.status, 101);
  const url = ctx.endpointFor(name);
  // `${origin}` means the server's own origin, which for a client on another endpoint is that endpoint's.
  const origin =
    p.origin === "${origin}" && url !== ctx.run.wsUrl ? httpOrigin(url) : p.origin === undefined ? undefined : ctx.text(p.origin);
  const outcome = await TestClient.connect(name, url, {
    ...(p.token !== undefined ? { token: ctx.text(p.token) } : {}),
    ...(p.token_in !== undefined ? { tokenIn: p.token_in } : {}),
    ...(origin !== undefined ? { origin } : {}),
    ...(p.path !== undefined ? { path: ctx.text(p.path) } : {}),
    ...(p.headers !== undefined
      ? { headers: Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k, String(ctx.fill(v))])) }
      : {}),
  });
  if (outcome.ok) {
    ctx.refused.delete(name);
    ctx.clients.set(name, outcome.client);
    if (!wanted.includes(101))
      throw new StepFailure(`expected the upgrade to be refused with HTTP ${wanted.join(" or ")}, but it succeeded`);
    return;
  }
  if (outcome.status === undefined || !wanted.includes(outcome.status)) {
    throw new StepFailure(
      `expected HTTP ${wanted.join(" or ")}, got ${outcome.status === undefined ? outcome.error : `HTTP ${outcome.status}`}`,
    );
  }
  ctx.clients.delete(name);
  ctx.refused.add(name);
};

export const send = async (ctx: CaseContext, p: Params<"send">): Promise<void> => {
  const c = ctx.client(p.client);
  const { frame, bytes } = ctx.buildFrame(p, c);
  c.send(bytes);
  ctx.noteSent(frame.kind.case);
};

export const sendRaw = async (ctx: CaseContext, p: Params<"send_raw">): Promise<void> => {
  const c = ctx.client(p.client);
  if (p.text !== undefined) return c.send(ctx.text(p.text));
  if (p.ws_ping !== undefined) return c.wsPing(ctx.text(p.ws_ping));
  let bytes: Uint8Array;
  if (p.hex !== undefined) bytes = hexBytes(ctx.text(p.hex));
  else if (p.base64 !== undefined) bytes = new Uint8Array(Buffer.from(ctx.text(p.base64), "base64"));
  else if (p.size !== undefined) bytes = new Uint8Array(ctx.int(p.size, "size"));
  else {
    const built = ctx.buildFrame(p, c);
    const cut = p.truncate === undefined ? 0 : ctx.int(p.truncate, "truncate");
    if (cut >= built.bytes.length) throw new StepFailure(`truncate ${cut} leaves nothing of a ${built.bytes.length}-byte frame`);
    bytes = built.bytes.subarray(0, built.bytes.length - cut);
  }
  c.send(bytes);
};

/** Takes the first buffered (or arriving) frame that matches, leaving every other frame for later steps. */
export const expect = async (ctx: CaseContext, p: Params<"expect">): Promise<void> => {
  const c = ctx.client(p.client);
  const pred = ctx.predicate(p, c);
  const timeout = ctx.timeout(p.timeout_ms);
  const deadline = Date.now() + timeout;
  let lastReason = "";
  for (;;) {
    ctx.checkViolations(c);
    const candidates = p.next === true ? c.buffer.slice(0, 1) : c.buffer;
    for (let i = 0; i < candidates.length; i++) {
      const f = candidates[i]!;
      const r = pred.test(f);
      if (r.ok) {
        c.buffer.splice(i, 1);
        ctx.save(r.captures);
        ctx.noteReceived(f);
        return;
      }
      // Every request gets exactly one reply: a reply with the awaited id that does not match is final.
      if (pred.id !== undefined && pred.id !== 0 && f.id === pred.id)
        throw new StepFailure(`client ${c.name}: the reply ${show(f.json)} does not match: ${r.reason}`);
      if (p.next === true) throw new StepFailure(`client ${c.name}: the next frame ${show(f.json)} does not match: ${r.reason}`);
      lastReason = r.reason;
    }
    if (c.closed)
      throw new StepFailure(
        `client ${c.name}: connection closed (${c.closed.code} ${c.closed.reason}) before a matching frame arrived; ${summarize(c.buffer)}`,
      );
    const left = deadline - Date.now();
    if (left <= 0)
      throw new StepFailure(
        `client ${c.name}: no matching frame within ${timeout} ms${lastReason ? ` (last mismatch: ${lastReason})` : ""}; ${summarize(c.buffer)}`,
      );
    await c.changed(left);
  }
};

export const expectNone = async (ctx: CaseContext, p: Params<"expect_none">): Promise<void> => {
  const c = ctx.client(p.client);
  const pred = ctx.predicate(p, c);
  const deadline = Date.now() + ctx.int(p.within_ms, "within_ms");
  for (;;) {
    ctx.checkViolations(c);
    const hit = c.buffer.find((f) => pred.test(f).ok);
    if (hit) throw new StepFailure(`client ${c.name}: expected no such frame, got ${show(hit.json)}`);
    const left = deadline - Date.now();
    if (left <= 0 || c.closed) return;
    await c.changed(left);
  }
};

export const expectClose = async (ctx: CaseContext, p: Params<"expect_close">): Promise<void> => {
  const c = ctx.client(p.client);
  const code = p.code === undefined ? undefined : ctx.fill(p.code);
  const timeout = ctx.timeout(p.timeout_ms);
  const closed = await c.waitClosed(timeout);
  ctx.checkViolations(c);
  if (!closed) throw new StepFailure(`client ${c.name}: still open after ${timeout} ms; ${summarize(c.buffer)}`);
  if (code !== undefined && !match(code, closed.code).ok) {
    throw new StepFailure(
      `client ${c.name}: closed with ${closed.code} (${closeCodeName(closed.code)}) "${closed.reason}", expected ${show(code)}`,
    );
  }
  ctx.coverage.closes.add(closed.code);
};

export const expectOpen = async (ctx: CaseContext, p: Params<"expect_open">): Promise<void> => {
  const c = ctx.client(p.client);
  ctx.checkViolations(c);
  if (!c.isOpen)
    throw new StepFailure(
      `client ${c.name}: expected the connection open, it ${c.closed ? `closed with ${c.closed.code} (${closeCodeName(c.closed.code)})` : "is not open"}`,
    );
};

/** Takes `count` matching frames in arrival order and saves them (or their `pick` path) as a list. */
export const collect = async (ctx: CaseContext, p: Params<"collect">): Promise<void> => {
  const c = ctx.client(p.client);
  const count = ctx.int(p.count, "count");
  const pred = ctx.predicate(p, c);
  const pick = p.pick === undefined ? undefined : ctx.text(p.pick);
  const save = ctx.text(p.save);
  const timeout = ctx.timeout(p.timeout_ms);
  const deadline = Date.now() + timeout;
  const out: unknown[] = [];
  while (out.length < count) {
    ctx.checkViolations(c);
    const i = c.buffer.findIndex((f) => pred.test(f).ok);
    if (i >= 0) {
      const f = c.buffer.splice(i, 1)[0]!;
      ctx.noteReceived(f);
      out.push(pick === undefined ? f.json : pickPath(f.json, pick));
      continue;
    }
    if (c.closed) throw new StepFailure(`client ${c.name}: closed (${c.closed.code}) after ${out.length} of ${count} frames`);
    const left = deadline - Date.now();
    if (left <= 0)
      throw new StepFailure(`client ${c.name}: collected ${out.length} of ${count} frames within ${timeout} ms; ${summarize(c.buffer)}`);
    await c.changed(left);
  }
  ctx.vars.set(save, out);
};

export const assert = async (ctx: CaseContext, p: Params<"assert">): Promise<void> => {
  if (p.equal !== undefined) {
    const equal = ctx.fill(p.equal);
    if (!Array.isArray(equal) || equal.length < 2) throw new StepFailure(`equal needs a list of at least two values, got ${show(equal)}`);
    const first = JSON.stringify(canonical(equal[0]));
    equal.forEach((v, i) => {
      if (JSON.stringify(canonical(v)) !== first) throw new StepFailure(`values differ: #1 ${show(equal[0])} vs #${i + 1} ${show(v)}`);
    });
  }
  if (p.sorted !== undefined) {
    const sorted = ctx.fill(p.sorted);
    if (!Array.isArray(sorted)) throw new StepFailure(`sorted needs a list, got ${show(sorted)}`);
    const by = p.by === undefined ? undefined : ctx.text(p.by);
    const list: unknown[] = by === undefined ? sorted : sorted.map((v) => pickPath(v, by));
    const ints = list.every((v) => typeof v === "number" || (typeof v === "string" && /^-?\d+$/.test(v)));
    for (let i = 1; i < list.length; i++) {
      const [x, y] = [list[i - 1], list[i]];
      const inOrder = ints ? BigInt(String(x)) <= BigInt(String(y)) : String(x) <= String(y);
      if (!inOrder) throw new StepFailure(`not sorted: ${show(x)} comes before ${show(y)} in ${show(list)}`);
    }
  }
  if (p.match !== undefined) {
    const r = match(ctx.fill(p.match), ctx.fill(p.value));
    if (!r.ok) throw new StepFailure(`value does not match: ${r.reason}`);
    ctx.save(r.captures);
  }
};

export const wait = async (ctx: CaseContext, p: Params<"wait">): Promise<void> => {
  await sleep(ctx.int(p.ms, "wait"));
};

export const disconnect = async (ctx: CaseContext, p: Params<"disconnect">): Promise<void> => {
  const name = ctx.text(p.client);
  if (ctx.refused.has(name) && !ctx.clients.has(name)) return;
  await ctx.client(p.client).close(p.abort === true);
};

export const pause = async (ctx: CaseContext, p: Params<"pause">): Promise<void> => {
  ctx.client(p.client).pause();
};

export const resume = async (ctx: CaseContext, p: Params<"resume">): Promise<void> => {
  ctx.client(p.client).resume();
};

export const http = async (ctx: CaseContext, p: Params<"http">): Promise<void> => {
  const url = new URL(ctx.text(p.path), ctx.run.httpUrl);
  const headers: Record<string, string> = {};
  if (p.origin !== undefined) headers.origin = ctx.text(p.origin);
  const method = (p.method === undefined ? "GET" : ctx.text(p.method)).toUpperCase();
  const wanted = statuses(ctx, p.status, 200);
  const contains = texts(ctx, p.body_contains);
  const without = texts(ctx, p.body_not_contains);
  let res: Response;
  try {
    res = await fetch(url, { method, headers, signal: AbortSignal.timeout(ctx.timeout(undefined, 5000)) });
  } catch (e) {
    throw new StepFailure(`${method} ${url.pathname}: ${(e as Error).message}`);
  }
  const body = method === "HEAD" ? "" : await res.text();
  if (!wanted.includes(res.status)) throw new StepFailure(`${method} ${url.pathname}: HTTP ${res.status}, expected ${wanted.join(" or ")}`);
  for (const s of contains)
    if (!body.includes(s))
      throw new StepFailure(`${method} ${url.pathname}: body does not contain ${show(s)}: ${show(body.slice(0, 300))}`);
  for (const s of without) if (body.includes(s)) throw new StepFailure(`${method} ${url.pathname}: body contains ${show(s)}`);
  if (p.headers !== undefined) {
    const got = Object.fromEntries(res.headers.entries());
    const r = match(Object.fromEntries(Object.entries(p.headers).map(([k, v]) => [k.toLowerCase(), ctx.fill(v)])), got);
    if (!r.ok) throw new StepFailure(`${method} ${url.pathname}: headers ${r.reason}`);
  }
};

const bearer = (ctx: CaseContext, token: string | undefined): Record<string, string> =>
  token === undefined ? {} : { authorization: `Bearer ${ctx.text(token)}` };

const checkHeaders = (ctx: CaseContext, what: string, wanted: Params<"download">["headers"], res: Response) => {
  if (wanted === undefined) return;
  const got = Object.fromEntries(res.headers.entries());
  const r = match(Object.fromEntries(Object.entries(wanted).map(([k, v]) => [k.toLowerCase(), ctx.fill(v)])), got);
  if (!r.ok) throw new StepFailure(`${what}: headers ${r.reason}`);
  ctx.save(r.captures);
};

export const upload = async (ctx: CaseContext, p: Params<"upload">): Promise<void> => {
  const url = new URL("/v1/uploads", ctx.run.httpUrl);
  if (p.name !== undefined) url.searchParams.set("name", ctx.text(p.name));
  const body =
    p.text !== undefined
      ? Buffer.from(ctx.text(p.text))
      : p.base64 !== undefined
        ? Buffer.from(ctx.text(p.base64), "base64")
        : Buffer.alloc(ctx.int(p.size!, "size"));
  const wanted = statuses(ctx, p.status, 201);
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        ...bearer(ctx, p.token),
        "content-type": p.content_type === undefined ? "application/octet-stream" : ctx.text(p.content_type),
      },
      body,
      signal: AbortSignal.timeout(ctx.timeout(undefined, 10_000)),
    });
  } catch (e) {
    throw new StepFailure(`POST /v1/uploads: ${(e as Error).message}`);
  }
  const text = await res.text();
  if (!wanted.includes(res.status))
    throw new StepFailure(`POST /v1/uploads: HTTP ${res.status}, expected ${wanted.join(" or ")}: ${show(text.slice(0, 300))}`);
  // The body first: its captures (the id) may be used by the header expectations (Location).
  if (p.json !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new StepFailure(`POST /v1/uploads: the answer is not JSON: ${show(text.slice(0, 300))}`);
    }
    const r = match(ctx.fill(p.json), json);
    if (!r.ok) throw new StepFailure(`POST /v1/uploads: answer ${r.reason}`);
    ctx.save(r.captures);
  }
  checkHeaders(ctx, "POST /v1/uploads", p.headers, res);
};

export const download = async (ctx: CaseContext, p: Params<"download">): Promise<void> => {
  const url = new URL(ctx.text(p.path), ctx.run.httpUrl);
  const method = (p.method === undefined ? "GET" : ctx.text(p.method)).toUpperCase();
  const what = `${method} ${url.pathname}`;
  const wanted = statuses(ctx, p.status, 200);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: { ...bearer(ctx, p.token), ...(p.range === undefined ? {} : { range: ctx.text(p.range) }) },
      signal: AbortSignal.timeout(ctx.timeout(undefined, 10_000)),
    });
  } catch (e) {
    throw new StepFailure(`${what}: ${(e as Error).message}`);
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  if (!wanted.includes(res.status)) throw new StepFailure(`${what}: HTTP ${res.status}, expected ${wanted.join(" or ")}`);
  checkHeaders(ctx, what, p.headers, res);
  if (p.size !== undefined && bytes.length !== ctx.int(p.size, "size"))
    throw new StepFailure(`${what}: ${bytes.length} bytes, expected ${ctx.int(p.size, "size")}`);
  if (p.body_base64 !== undefined && !bytes.equals(Buffer.from(ctx.text(p.body_base64), "base64"))) {
    throw new StepFailure(`${what}: the ${bytes.length} bytes differ from the expected ones`);
  }
  const latin1 = bytes.toString("latin1");
  for (const s of texts(ctx, p.body_contains)) if (!latin1.includes(s)) throw new StepFailure(`${what}: body does not contain ${show(s)}`);
  for (const s of texts(ctx, p.body_not_contains)) if (latin1.includes(s)) throw new StepFailure(`${what}: body contains ${show(s)}`);
};

/** Sets variables in order, so a later value may use an earlier one. */
export const set = async (ctx: CaseContext, p: Params<"set">): Promise<void> => {
  for (const [k, v] of Object.entries(p)) ctx.vars.set(k, ctx.fill(v));
};

export const shutdown = async (ctx: CaseContext, _p: Params<"shutdown">): Promise<void> => {
  if (!ctx.run.shutdown) throw new StepFailure("the runner was not given --shutdown-command");
  await ctx.run.shutdown();
};
