// The state one conformance case runs over: its clients, variables, request labels and coverage, with the
// typed helpers every step uses to fill placeholders, find a client and build or await frames.
import { fromJson, type JsonObject, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { ClientFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import type { IntParam } from "./case-schema.ts";
import { TestClient, type Received } from "./client.ts";
import { match, type MatchResult, show } from "./match.ts";
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

export const emptyCoverage = (): Coverage => ({ client: new Set(), server: new Set(), errors: new Set(), closes: new Set() });

export const DEFAULT_TIMEOUT_MS = 2000;
const MAX_UNIQUE_NAME = 32;

/** A step that did not hold: the case fails with this message. */
export class StepFailure extends Error {}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Values read from YAML and filled from variables are JSON; this checks it rather than assuming it. */
const isJson = (v: unknown): v is JsonValue =>
  v === null ||
  typeof v === "string" ||
  typeof v === "boolean" ||
  (typeof v === "number" && Number.isFinite(v)) ||
  (Array.isArray(v) && v.every(isJson)) ||
  (isObject(v) && Object.values(v).every(isJson));
const isJsonObject = (v: unknown): v is JsonObject => isObject(v) && isJson(v);

export const asInt = (v: unknown, what: string): number => {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0)
    throw new StepFailure(`${what} must be a non-negative integer, got ${show(v)}`);
  return n;
};

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A field of a frame by a dotted path of proto or JSON names (`message.seq`). */
export const pickPath = (json: unknown, path: string): unknown => {
  let v: unknown = json;
  for (const part of path.split(".")) {
    if (!isObject(v)) return undefined;
    const camel = part.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
    v = Object.hasOwn(v, part) ? v[part] : v[camel];
  }
  return v;
};

export const summarize = (frames: ReadonlyArray<Received>): string => {
  if (frames.length === 0) return "nothing received";
  const shown = frames.slice(0, 6).map((f) => show(f.json));
  return `received and not taken: ${shown.join(", ")}${frames.length > 6 ? ` and ${frames.length - 6} more` : ""}`;
};

const clientKindName = (localName: string | undefined): string =>
  localName === undefined ? "(none)" : (ClientFrameSchema.fields.find((f) => f.localName === localName)?.name ?? localName);

/** Which frames an expectation accepts: an id constraint (reply_to, id, push) and a frame matcher. */
export interface Predicate {
  readonly id: number | undefined;
  test(f: Received): MatchResult;
}

/** The expectation parameters shared by expect, expect_none and collect. */
export interface Expectation {
  readonly client: string;
  readonly frame?: unknown;
  readonly reply_to?: string;
  readonly id?: IntParam;
  readonly push?: boolean;
}

export class CaseContext {
  readonly coverage = emptyCoverage();
  readonly clients = new Map<string, TestClient>();
  /** Clients whose connect step was refused as the case allowed: disconnecting them is a no-op. */
  readonly refused = new Set<string>();
  readonly vars: Map<string, unknown>;
  /** "client\0label" -> the request id sent under that label (labels are per client). */
  private readonly labels = new Map<string, number>();
  private readonly scope: Scope;
  private readonly endpoints: ReadonlyArray<string>;
  private readonly endpointOf = new Map<string, string>();

  readonly run: RunContext;

  constructor(run: RunContext) {
    this.run = run;
    this.vars = new Map<string, unknown>([
      ["http", run.httpUrl],
      ["origin", new URL(run.httpUrl).origin],
      ["ws_url", run.wsUrl],
    ]);
    this.scope = {
      vars: this.vars,
      unique(name) {
        const u = `${name}-${run.runId}${run.caseIndex.toString(36)}`;
        if ([...u].length > MAX_UNIQUE_NAME)
          throw new TemplateError(`\${unique:${name}} is longer than ${MAX_UNIQUE_NAME} characters: use a shorter name`);
        return u;
      },
    };
    this.endpoints = run.wsUrls && run.wsUrls.length > 0 ? run.wsUrls : [run.wsUrl];
  }

  // ---- placeholders: every parameter is filled when its step runs ----

  /** The value with its placeholders filled. */
  fill(value: unknown): unknown {
    return interpolate(value, this.scope);
  }

  text(value: string): string {
    return String(this.fill(value));
  }

  int(value: IntParam, what: string): number {
    return asInt(this.fill(value), what);
  }

  /** An expectation timeout in ms (default 2000), multiplied by --timeout-scale. */
  timeout(value: IntParam | undefined, fallback = DEFAULT_TIMEOUT_MS): number {
    return (value === undefined ? fallback : this.int(value, "timeout_ms")) * this.run.timeoutScale;
  }

  // ---- clients ----

  /** Client k (by first connect) uses endpoint k mod n, also when it reconnects. */
  endpointFor(name: string): string {
    let url = this.endpointOf.get(name);
    if (url === undefined) {
      url = this.endpoints[this.endpointOf.size % this.endpoints.length]!;
      this.endpointOf.set(name, url);
    }
    return url;
  }

  /** The connected client a step names (placeholders filled). */
  client(param: string): TestClient {
    const name = this.text(param);
    const c = this.clients.get(name);
    if (!c)
      throw new StepFailure(
        `client "${name}" is not connected${this.refused.has(name) ? " (its upgrade was refused)" : " (add a connect step first)"}`,
      );
    return c;
  }

  /** Frames the client could not decode fail the case at the next step that looks at it. */
  checkViolations(c: TestClient): void {
    if (c.violations.length > 0) throw new StepFailure(`client ${c.name}: ${c.violations[0]}`);
  }

  // ---- frames and coverage ----

  noteReceived(f: Received): void {
    this.coverage.server.add(f.kind);
    const err = f.json.error;
    if (f.kind === "error" && isObject(err) && typeof err.code === "string") this.coverage.errors.add(err.code);
  }

  /** Encodes a ClientFrame given in protobuf JSON; the id is the client's next unless given; a label names it. */
  buildFrame(p: { readonly frame?: unknown; readonly id?: IntParam; readonly label?: string }, c: TestClient) {
    const body = this.fill(p.frame);
    if (!isJsonObject(body)) throw new StepFailure(`frame must be a mapping such as {ping: {}}, got ${show(body)}`);
    const id = p.id === undefined ? c.takeId() : this.int(p.id, "id");
    let frame;
    try {
      frame = fromJson(ClientFrameSchema, { ...body, id });
    } catch (e) {
      throw new StepFailure(`frame is not a ClientFrame in protobuf JSON: ${(e as Error).message}`);
    }
    if (p.label !== undefined) this.labels.set(`${c.name}\u0000${this.text(p.label)}`, id);
    return { frame, id, bytes: toBinary(ClientFrameSchema, frame) };
  }

  noteSent(kind: string | undefined): void {
    this.coverage.client.add(clientKindName(kind));
  }

  /** The frames an expectation accepts; reply_to must name a request this client sent before. */
  predicate(p: Expectation, c: TestClient): Predicate {
    let id: number | undefined;
    if (p.reply_to !== undefined) {
      const label = this.text(p.reply_to);
      id = this.labels.get(`${c.name}\u0000${label}`);
      if (id === undefined) throw new StepFailure(`reply_to: client ${c.name} sent nothing labelled "${label}" before`);
    } else if (p.id !== undefined) id = this.int(p.id, "id");
    else if (p.push === true) id = 0;
    const frame = p.frame === undefined ? undefined : this.fill(p.frame);
    return {
      id,
      test(f: Received): MatchResult {
        if (id !== undefined && f.id !== id) return { ok: false, reason: `id ${f.id} is not ${id}` };
        if (frame === undefined) return { ok: true, captures: new Map() };
        return match(frame, f.json);
      },
    };
  }

  save(captures: ReadonlyMap<string, unknown>): void {
    for (const [k, v] of captures) this.vars.set(k, v);
  }
}
