// What the contract defines and what the passing cases exercised: every ClientFrame and ServerFrame kind,
// every ErrorCode and every CloseCode (UNSPECIFIED excepted, it is never sent). The lists come from the
// generated schemas, so a kind or code added to the contract shows up here as uncovered until a case or
// an entry in the untestable list accounts for it.
import { ClientFrameSchema, ServerFrameSchema } from "../../proto/gen/es/chat/v1/envelope_pb.js";
import { CloseCodeSchema, ErrorCodeSchema } from "../../proto/gen/es/chat/v1/error_pb.js";
import type { Coverage } from "./engine.ts";

export interface Item {
  /** The key used in the untestable list, e.g. "client:send_message", "error:ERROR_CODE_INTERNAL", "close:1011". */
  readonly key: string;
  readonly label: string;
}

export interface Section {
  readonly title: string;
  readonly items: ReadonlyArray<Item>;
  readonly covered: (c: Coverage, item: Item) => boolean;
}

const kinds = (schema: typeof ClientFrameSchema | typeof ServerFrameSchema) => schema.oneofs[0]!.fields.map((f) => f.name);

export const sections: ReadonlyArray<Section> = [
  {
    title: "client frames",
    items: kinds(ClientFrameSchema).map((k) => ({ key: `client:${k}`, label: k })),
    covered: (c, i) => c.client.has(i.label),
  },
  {
    title: "server frames",
    items: kinds(ServerFrameSchema).map((k) => ({ key: `server:${k}`, label: k })),
    covered: (c, i) => c.server.has(i.label),
  },
  {
    title: "error codes",
    items: ErrorCodeSchema.values
      .filter((v) => v.number !== 0)
      .map((v) => ({ key: `error:${v.name}`, label: `${v.number} ${v.name.replace("ERROR_CODE_", "")}` })),
    covered: (c, i) => c.errors.has(i.key.slice("error:".length)),
  },
  {
    title: "close codes",
    items: CloseCodeSchema.values
      .filter((v) => v.number !== 0)
      .map((v) => ({ key: `close:${v.number}`, label: `${v.number} ${v.name.replace("CLOSE_CODE_", "")}` })),
    covered: (c, i) => c.closes.has(Number(i.key.slice("close:".length))),
  },
];

export const allKeys = (): Set<string> => new Set(sections.flatMap((s) => s.items.map((i) => i.key)));

export interface CoverageReport {
  readonly lines: string[];
  /** Keys neither covered nor listed as untestable. */
  readonly missing: string[];
}

export const coverageReport = (c: Coverage, untestable: ReadonlyMap<string, string>): CoverageReport => {
  const lines: string[] = ["coverage (by passing cases):"];
  const missing: string[] = [];
  for (const s of sections) {
    const covered = s.items.filter((i) => s.covered(c, i));
    lines.push(`  ${s.title.padEnd(14)} ${covered.length}/${s.items.length}`);
    for (const i of s.items) {
      if (s.covered(c, i)) continue;
      const why = untestable.get(i.key);
      if (why !== undefined) lines.push(`    untestable ${i.label}: ${why}`);
      else {
        lines.push(`    MISSING    ${i.label}`);
        missing.push(i.key);
      }
    }
  }
  return { lines, missing };
};

export const mergeCoverage = (into: Coverage, from: Coverage): void => {
  for (const k of from.client) into.client.add(k);
  for (const k of from.server) into.server.add(k);
  for (const k of from.errors) into.errors.add(k);
  for (const k of from.closes) into.closes.add(k);
};
