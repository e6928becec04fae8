// Summarizes a V8 .cpuprofile (from node --cpu-prof, e.g. `npm run bench -- --servers chat --cpu-prof`):
// the functions with the most self time, and the most total (inclusive) time, as percentages of samples.
//   node load/bench/profile-top.ts artifacts/profiles/CPU….cpuprofile [--top 30]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
}

const { positionals, values } = parseArgs({ allowPositionals: true, options: { top: { type: "string", default: "30" } } });
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as Profile;
const top = Number(values.top);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const selfCount = new Map<number, number>();
for (const s of profile.samples) selfCount.set(s, (selfCount.get(s) ?? 0) + 1);
const total = profile.samples.length;
const label = (n: Node) => {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\/.*\/(node_modules|server|load|proto)\//, "$1/");
  return `${f.functionName || "(anonymous)"} ${file}${file ? `:${f.lineNumber + 1}` : ""}`;
};
const self = new Map<string, number>();
const inclusive = new Map<string, number>();
for (const [id, count] of selfCount) {
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + count);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + count);
  }
}
const print = (title: string, m: Map<string, number>) => {
  process.stdout.write(`${title} (${total} samples)\n`);
  for (const [l, c] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`${((100 * c) / total).toFixed(1).padStart(6)}%  ${l}\n`);
};
print("self time", self);
print("\ninclusive time", inclusive);

// Self time grouped by where the code lives (node internals, a package, the server's own modules).
const groups = new Map<string, number>();
for (const [id, count] of selfCount) {
  const url = byId.get(id)!.callFrame.url;
  const name = byId.get(id)!.callFrame.functionName;
  const key = url.includes("node_modules/")
    ? `pkg ${url
        .split("node_modules/")[1]!
        .split("/")
        .slice(0, url.includes("node_modules/@") ? 2 : 1)
        .join("/")}`
    : url.startsWith("node:")
      ? "node internals"
      : url.includes("/server/src/")
        ? `server ${url.split("/server/src/")[1]}`
        : url === ""
          ? `native ${name || "?"}`
          : url.includes("/proto/gen/")
            ? "generated codecs"
            : "other";
  groups.set(key, (groups.get(key) ?? 0) + count);
}
print("\nself time by module", groups);
