#!/usr/bin/env bash
# Two nodes, one chat: starts a two-node cluster with `npm run cluster` (throwaway PostgreSQL and Redis,
# HAProxy in front) and runs the Python interop and the conformance suite with each case's clients spread
# over the nodes (client k on node k mod 2), then the fault matrix (server/test/cluster/*.cluster.ts), which
# starts its own clusters. Prints every figure. Records "cluster-python", "cluster-conformance" and
# "cluster-faults" <passed> <failed>, and the checks "cluster-start" and "cluster-shutdown" (every node
# exited 0 after SIGTERM). Fails at once if the server's --help lacks the cluster flags.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
node=node_modules/.bin/node
counts=${TEST_COUNTS_FILE:-/dev/null}
mkdir -p artifacts
status=0

missing=""
help=$("$node" server/src/main.ts --help)
for flag in --database-url --redis-url --node-id; do
  grep -q -- "$flag " <<< "$help" || missing="$missing $flag"
done
if [ -n "$missing" ]; then
  echo "FAIL cluster: the server's --help has no$missing"
  echo "cluster-start 0 1" >> "$counts"
  exit 1
fi

# --- the two-node conformance pass ---
out=artifacts/cluster-conformance-harness.txt
rm -rf artifacts/cluster-conformance-logs
# shellcheck disable=SC2046
"$node" scripts/cluster.ts --nodes 2 --port 0 --logs artifacts/cluster-conformance-logs -- \
  $(grep -v '^#' conformance/server-flags.txt) --log-level info > "$out" 2>&1 &
cluster_pid=$!
cleanup() { kill -TERM "$cluster_pid" 2>/dev/null; wait "$cluster_pid" 2>/dev/null; }
trap cleanup EXIT

urls=()
for _ in $(seq 1 600); do
  grep -q '^health checks:' "$out" 2>/dev/null && break
  kill -0 "$cluster_pid" 2>/dev/null || break
  sleep 0.1
done
mapfile -t urls < <(sed -n 's/^  node[0-9]* \(ws:[^ ]*\) pid [0-9]*$/\1/p' "$out")
if ! check cluster-start test "${#urls[@]}" -eq 2; then
  echo "the two-node cluster did not start:"; tail -30 "$out"
  exit 1
fi
cat "$out"

echo "--- python interop across nodes (TypeScript on node1, Python on node2)"
if [ -x .cache/venv/bin/python ]; then
  "$node" conformance/src/interop.ts --url "${urls[0]}" --url "${urls[1]}" | tee artifacts/cluster-python.txt
  read -r pp pf < <(tail -1 artifacts/cluster-python.txt | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
  [ -n "${pp:-}" ] || { pp=0; pf=1; }
else
  echo "FAIL python interop: .cache/venv is missing (scripts/setup.d/40-python.sh)"
  pp=0; pf=1
fi
echo "cluster-python $pp $pf" >> "$counts"
[ "$pf" -eq 0 ] || status=1

echo "--- conformance suite, clients spread over two nodes"
npm run -s conformance -- --url "${urls[0]}" --url "${urls[1]}" --known-failing conformance/known-failing-cluster.txt \
  --untestable conformance/untestable.txt --untestable conformance/untestable-cluster.txt \
  --shutdown-command "kill -TERM $cluster_pid" | tee artifacts/cluster-conformance.txt
read -r cp cf < <(tail -1 artifacts/cluster-conformance.txt | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p')
[ -n "${cp:-}" ] || { cp=0; cf=1; }
# The shutdown case SIGTERMed the cluster: every node must drain and exit cleanly (the cluster exits 0).
cluster_exited_cleanly() {
  for _ in $(seq 1 300); do kill -0 "$cluster_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$cluster_pid" 2>/dev/null; then echo "the cluster is still running after the shutdown case"; return 1; fi
  wait "$cluster_pid"; local code=$?
  [ "$code" -eq 0 ] || { echo "the cluster exited with $code after SIGTERM"; tail -5 "$out"; return 1; }
}
check cluster-shutdown cluster_exited_cleanly || status=1
trap - EXIT
echo "cluster-conformance $cp $cf" >> "$counts"
[ "$cf" -eq 0 ] || status=1

echo "--- fault matrix"
rm -f artifacts/cluster-figures.txt
TEST_COUNTS_FILE= npx vitest run -c server/test/cluster/vitest.config.ts 2>&1 | tee artifacts/cluster-faults.txt
read -r fp ff < <(tail -1 artifacts/cluster-faults.txt | sed -n 's/^vitest: \([0-9]*\) passed, \([0-9]*\) failed.*$/\1 \2/p')
[ -n "${fp:-}" ] || { fp=0; ff=1; }
echo "cluster-faults $fp $ff" >> "$counts"
[ "$ff" -eq 0 ] || status=1
echo "--- figures (artifacts/cluster-figures.txt)"
cat artifacts/cluster-figures.txt 2>/dev/null || echo "(none)"
exit "$status"
