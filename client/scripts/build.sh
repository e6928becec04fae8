#!/usr/bin/env bash
# Builds the installable package @protochat/client into client/dist/{sdk,components,gen} plus
# client/custom-elements.json: JavaScript and .d.ts from the TypeScript sources (tsc, tsconfig.browser.json),
# the generated codecs copied in from proto/gen/es (the one source of truth, made by `npm run gen`), and the
# Custom Elements Manifest. Run it as `npm run build` in client/ (or directly); `npm pack` in client/ after it.
set -euo pipefail
client=$(cd "$(dirname "$0")/.." && pwd)
root=$(cd "$client/.." && pwd)
bin=$root/node_modules/.bin
out=$client/dist
# The repository's tools, and its Node 24 for the ones started through `#!/usr/bin/env node` (cem).
export PATH="$bin:$PATH"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# 1. Stage the package's sources with the codecs beside them, as the package lays them out: src/gen/chat/v1.
#    The sources reach the codecs at ../../../proto/gen/es/ in the repository and at ../gen/ in the package;
#    that prefix is the only thing rewritten, and any other import leaving the staged tree fails the build.
mkdir -p "$stage/src/gen"
(cd "$client/src" && find . -name '*.ts' ! -name '*.test.ts' ! -name 'test-support.ts' ! -path './main.ts' -print0 |
  xargs -0 -I{} install -D -m 644 {} "$stage/src/{}")
cp -r "$root/proto/gen/es/chat" "$stage/src/gen/chat"
find "$stage/src" -name '*.ts' ! -path "$stage/src/gen/*" -print0 |
  xargs -0 sed -i -E 's#(["'\''])(\.\./)+proto/gen/es/#\1../gen/#'
if grep -rnE "from \"(\.\./){2,}" "$stage/src" --include='*.ts' --exclude-dir=gen; then
  echo "build: an import above leaves the package's sources" >&2
  exit 1
fi

# 2. Compile: JavaScript with .ts imports rewritten to .js, and declarations.
cat > "$stage/tsconfig.json" <<JSON
{
  "extends": "$client/tsconfig.browser.json",
  "compilerOptions": { "noEmit": false, "declaration": true, "rootDir": "src", "outDir": "out", "skipLibCheck": true },
  "include": ["src"],
  "exclude": ["src/gen"]
}
JSON
# Type roots and packages (lit, @bufbuild/protobuf) resolve from the repository's node_modules.
ln -s "$root/node_modules" "$stage/node_modules"
echo '{ "type": "module" }' > "$stage/package.json"
"$bin/tsc" -p "$stage/tsconfig.json"
# Declarations keep the sources' ".ts" specifiers; consumers resolve the emitted ".js" names.
find "$stage/out" -name '*.d.ts' -print0 | xargs -0 sed -i -E 's#(from ["'\'']\.{1,2}/[^"'\'']*)\.ts(["'\''])#\1.js\2#g'
cp -r "$stage/src/gen" "$stage/out/gen"

rm -rf "$out/sdk" "$out/components" "$out/gen"
mkdir -p "$out"
cp -r "$stage/out/." "$out/"

# Every package the built modules import must be a declared dependency (the codecs' runtime, lit, and
# whatever the generator starts importing), and nothing may import a Node built-in (the package runs in
# browsers).
"$bin/node" --input-type=module - "$client" <<'JS'
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
const client = process.argv[2];
const pkg = JSON.parse(readFileSync(join(client, "package.json"), "utf8"));
const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
const problems = [];
for (const dir of ["sdk", "components", "gen"]) {
  for (const file of readdirSync(join(client, "dist", dir), { recursive: true })) {
    if (!String(file).endsWith(".js")) continue;
    const text = readFileSync(join(client, "dist", dir, String(file)), "utf8");
    // Static import/export statements (tsc writes one per statement, ending with ";").
    for (const [, spec] of text.matchAll(/(?:^|;)\s*(?:import|export)\s(?:[^;"']*?\sfrom\s*)?["']([^"']+)["']/gm)) {
      if (spec.startsWith(".")) continue;
      const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
      if (spec.startsWith("node:") || !declared.has(name)) problems.push(`dist/${dir}/${file} imports ${spec}`);
    }
  }
}
if (problems.length > 0) {
  console.error(`build: imports that client/package.json does not declare (or Node built-ins):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
JS

# 3. The Custom Elements Manifest (attributes, events, parts, CSS properties of the elements).
cd "$client"
if [ -f custom-elements-manifest.config.mjs ]; then
  "$bin/cem" analyze --config custom-elements-manifest.config.mjs --quiet
else
  "$bin/cem" analyze --litelement --globs "src/components/**/*.ts" --exclude "src/**/*.test.ts" --quiet
fi
test -s custom-elements.json
echo "built $(cd "$out" && find sdk components gen -name '*.js' | wc -l) modules into client/dist and client/custom-elements.json"
