#!/usr/bin/env bash
# The conformance suite and the Python interop against the project's own server, started the way a user
# starts it (node server/src/main.ts, which `npm start` runs; the client build is skipped) with the short
# timers and small caps of conformance/server-flags.txt. The suite's last case stops the server with SIGTERM
# (--shutdown-command) and checks the 1001 close; the step then checks that the server exited cleanly.
# Records "conformance <passed> <failed>" and "python <passed> <failed>".
set -uo pipefail
cd "$(dirname "$0")/../.."
node=node_modules/.bin/node
counts=${TEST_COUNTS_FILE:-/dev/null}
mkdir -p artifacts
log=artifacts/conformance-server.log
rm -f "$log" # a log left by an earlier run would give the step an old port
data=$(mktemp -d)
status=0

# shellcheck disable=SC2046
"$node" server/src/main.ts --port 0 --data-dir "$data" $(grep -v '^#' conformance/server-flags.txt) --log-level info > "$log" 2>&1 &
pid=$!
cleanup() { kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$data"; }
trap cleanup EXIT

# The "listening" log line carries the port.
port=""
for _ in $(seq 1 100); do
  port=$(grep -m1 '"listening"' "$log" 2>/dev/null | sed -n 's/.*"port":\([0-9]*\).*/\1/p')
  [ -n "$port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL conformance: the server did not start"; tail -20 "$log"
  echo "conformance 0 1" >> "$counts"
  exit 1
fi
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "server pid $pid on port $port (log: $log)"

# Python interop first: the suite ends by shutting the server down.
echo "--- python interop"
if [ -x .cache/venv/bin/python ]; then
  "$node" conformance/src/interop.ts --url "ws://127.0.0.1:$port/ws" | tee artifacts/conformance-python.txt
  read -r pp pf < <(tail -1 artifacts/conformance-python.txt | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
  [ -n "${pp:-}" ] || { pp=0; pf=1; }
else
  echo "FAIL python interop: .cache/venv is missing (scripts/setup.d/40-python.sh)"
  pp=0; pf=1
fi
echo "python $pp $pf" >> "$counts"
[ "$pf" -eq 0 ] || status=1

echo "--- conformance suite"
npm run -s conformance -- --url "ws://127.0.0.1:$port/ws" --known-failing conformance/known-failing.txt \
  --shutdown-command "kill -TERM $pid" | tee artifacts/conformance.txt
read -r cp cf < <(tail -1 artifacts/conformance.txt | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
[ -n "${cp:-}" ] || { cp=0; cf=1; }

# The shutdown case sent SIGTERM: the server must exit, and cleanly.
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "FAIL server still running after the shutdown case"; cf=$((cf + 1))
else
  wait "$pid"; code=$?
  if [ "$code" -ne 0 ]; then echo "FAIL server exited with $code after SIGTERM"; cf=$((cf + 1)); else echo "ok   server exited cleanly after SIGTERM"; cp=$((cp + 1)); fi
fi
echo "conformance $cp $cf" >> "$counts"
[ "$cf" -eq 0 ] || status=1
exit "$status"
