#!/usr/bin/env bash
# The installable client package @protochat/client, as a user gets it. After a type check of the SDK as Node
# code (client/tsconfig.node.json): build (client/scripts/build.sh), `npm pack` into a temp dir, install the
# tarball into a fresh temp project (offline from the npm cache when it holds the dependencies, else from the
# registry), then in that project: a Node script that talks to the real server through the SDK entry, and
# `tsc --noEmit` over a Node-only file (the SDK with no DOM types) and a browser file (the SDK and the
# <chat-app> entry). One recorded check per stage.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
repo=$PWD
# Node 24 (node_modules/.bin/node) for npm, the server and the scripts.
export PATH="$repo/node_modules/.bin:$PATH"
work=$(mktemp -d)
app=$work/app
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
status=0

# The SDK as Node code (no DOM types); the build below compiles the browser program (tsconfig.browser.json).
check client-typecheck-node tsc --noEmit -p client/tsconfig.node.json || status=1
check client-package-build bash client/scripts/build.sh || exit 1

pack() {
  (cd client && npm pack --silent --ignore-scripts --pack-destination "$work") > "$work/pack.txt" || return 1
  tarball="$work/$(tail -1 "$work/pack.txt")"
  # The tarball holds the built entry points and the codecs, and nothing that points back into the repository.
  local listing
  listing=$(tar -tzf "$tarball") || return 1
  for f in package/dist/sdk/index.js package/dist/sdk/index.d.ts package/dist/components/define.js \
    package/dist/gen/chat/v1/envelope_pb.js package/custom-elements.json package/README.md; do
    grep -qx "$f" <<< "$listing" || { echo "missing from the tarball: $f"; return 1; }
  done
  if tar -xzOf "$tarball" --wildcards 'package/dist/*' | grep -n 'proto/gen/es'; then
    echo "the package still imports the repository's proto/gen/es"; return 1
  fi
  # The SDK entry needs no DOM: nothing under dist/sdk imports lit (or the component).
  if tar -xzOf "$tarball" --wildcards 'package/dist/sdk/*.js' | grep -nE "from \"(lit|\.\./components)"; then
    echo "the SDK imports browser-only code"; return 1
  fi
  tar -xzOf "$tarball" package/custom-elements.json | grep '"tagName": "chat-app"' > /dev/null ||
    { echo "custom-elements.json does not describe <chat-app>"; return 1; }
}
check client-package-pack pack || exit 1

install_tarball() {
  mkdir -p "$app" && cd "$app" || return 1
  echo '{ "name": "protochat-package-check", "private": true, "type": "module" }' > package.json
  npm install --offline --no-audit --no-fund --loglevel=error "$tarball" ||
    npm install --prefer-offline --no-audit --no-fund --loglevel=error "$tarball"
  local status=$?
  cd "$repo" || return 1
  return $status
}
check client-package-install install_tarball || exit 1

# --- a Node program using the SDK entry against the real server --------------------------------------------
cat > "$app/smoke.mjs" <<'JS'
// Two users through the installed SDK: register, create and join a room, a message with its ack and push,
// a refused empty send (a ChatError with its ErrorCode), the server's timing values, and a clean close.
import assert from "node:assert/strict";
import { ChatClient, ChatError, ErrorCode } from "@protochat/client";

const url = process.argv[2];
const suffix = Date.now().toString(36);
const a = new ChatClient({ url });
const b = new ChatClient({ url });
try {
  const auth = await a.register(`pkga${suffix}`, "correct horse battery");
  assert.equal(a.state, "connected");
  assert.equal(auth.username, `pkga${suffix}`);
  assert.ok(a.session && a.session.roomGraceMs > 0 && a.session.typingTtlMs > 0, "session timing values");
  await b.register(`pkgb${suffix}`, "correct horse battery");
  const code = (await a.createRoom("package check")).room.code;
  await b.joinRoom(code.toLowerCase());
  const pushed = new Promise((resolve) => b.on("message", resolve));
  const { clientMessageId, acked } = a.send(code, "hello from the installed package");
  const ack = await acked;
  const message = await pushed;
  assert.equal(message.text, "hello from the installed package");
  assert.equal(message.seq, ack.seq);
  assert.equal(message.clientMessageId, clientMessageId);
  const refused = await a.send(code, "").acked.catch((e) => e);
  assert.ok(refused instanceof ChatError);
  assert.equal(refused.code, ErrorCode.INVALID_ARGUMENT);
  console.log(`package SDK: message seq ${ack.seq} acked and delivered in room ${code}`);
} finally {
  a.close();
  b.close();
}
JS

smoke() {
  local data log port=""
  data="$work/data"
  log="$work/server.log"
  mkdir -p "$data"
  node server/src/main.ts --port 0 --data-dir "$data" --log-level info > "$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    port=$(grep -m1 '"listening"' "$log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p')
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$port" ]; then echo "the server did not start"; tail -20 "$log"; return 1; fi
  (cd "$app" && timeout 60 node smoke.mjs "ws://127.0.0.1:$port/ws")
  local status=$?
  kill -TERM "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
  return $status
}
check client-package-node-sdk smoke || status=1

# --- type checks of the installed declarations --------------------------------------------------------------
cat > "$app/sdk-only.ts" <<'TS'
// Node code: the SDK entry alone type-checks with no DOM and no Node types.
import { ChatClient, ChatError, type ChatMessage, type ConnectionState, describeError, ErrorCode, type SessionInfo } from "@protochat/client";

export const lines: string[] = [];
const client = new ChatClient({ url: "ws://127.0.0.1:8080/ws", reconnect: { initialMs: 250 } });
client.on("message", (m: ChatMessage) => lines.push(`${m.seq} ${m.sender}: ${m.text}`));
client.on("error", (e: ChatError) => lines.push(e.code === ErrorCode.NOT_FOUND ? "gone" : describeError(e)));
export const state: ConnectionState = client.state;
export const check = async (): Promise<bigint> => {
  await client.login("ada", "correct horse battery");
  const session: SessionInfo | undefined = client.session;
  lines.push(`grace ${session?.roomGraceMs ?? 0} ms, typing ${session?.typingTtlMs ?? 0} ms`);
  const ack = await client.send("K7QX2M", "hi").acked;
  return ack.seq;
};
TS
cat > "$app/page.ts" <<'TS'
// Browser code: the SDK and the <chat-app> entry (which registers the element and types the tag).
import { ChatClient } from "@protochat/client";
import "@protochat/client/chat-app";

const app = document.createElement("chat-app");
document.body.append(app);
const client = new ChatClient({ url: "ws://127.0.0.1:8080/ws" });
client.on("state", (s) => console.log(s.state, s.nextRetryMs));
TS
cat > "$app/tsconfig.node.json" <<'JSON'
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "es2022", "module": "nodenext", "moduleResolution": "nodenext",
  "lib": ["es2024"], "types": [], "skipLibCheck": false }, "files": ["sdk-only.ts"] }
JSON
cat > "$app/tsconfig.browser.json" <<'JSON'
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "es2022", "module": "nodenext", "moduleResolution": "nodenext",
  "lib": ["es2024", "dom", "dom.iterable"], "types": [], "skipLibCheck": false }, "files": ["page.ts"] }
JSON
check client-package-types-node tsc --noEmit -p "$app/tsconfig.node.json" || status=1
check client-package-types-browser tsc --noEmit -p "$app/tsconfig.browser.json" || status=1
exit "$status"
