// Structured logs: one JSON object per line on stdout, `{"time","level","msg",...fields}`. Fields come from
// an object passed after the message and from log annotations. Callers never log message bodies, passwords
// or tokens: the server logs identifiers (room codes, usernames, close codes) and counts only.
import { Logger, References } from "effect";
import type { Config } from "./config.ts";

const levels = { debug: "Debug", info: "Info", warn: "Warn", error: "Error" } as const;

export const jsonLogger = Logger.make((options) => {
  const parts = Array.isArray(options.message) ? options.message : [options.message];
  const record: Record<string, unknown> = {
    time: options.date.toISOString(),
    level: options.logLevel.toLowerCase(),
    msg: typeof parts[0] === "string" ? parts[0] : String(parts[0]),
  };
  for (const part of parts.slice(1)) if (part && typeof part === "object") Object.assign(record, part);
  const annotations = options.fiber.getRef(References.CurrentLogAnnotations);
  for (const [k, v] of Object.entries(annotations)) record[k] ??= v;
  process.stdout.write(`${JSON.stringify(record, (_k, v) => (typeof v === "bigint" ? v.toString() : v))}\n`);
});

export const loggerLayer = Logger.layer([jsonLogger]);
export const minimumLevel = (level: Config["logLevel"]) => levels[level];
