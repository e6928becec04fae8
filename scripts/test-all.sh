#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it: installs system tools (idempotent),
# then runs every step in scripts/test.d/ in order. Each step appends "<name> <passed> <failed>" lines to
# $TEST_COUNTS_FILE; the run ends with one plain `N passed, N failed` line over all of them.
set -uo pipefail
cd "$(dirname "$0")/.."
export TEST_COUNTS_FILE
TEST_COUNTS_FILE=$(mktemp)
mkdir -p artifacts

bash scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

status=0
for step in scripts/test.d/*.sh; do
  name=$(basename "$step" .sh)
  echo
  echo "=== $name ==="
  before=$(wc -l < "$TEST_COUNTS_FILE")
  if ! bash "$step"; then
    status=1
    # A step that failed without recording a failure still counts as one.
    if ! tail -n +"$((before + 1))" "$TEST_COUNTS_FILE" | awk '$3 > 0 { found = 1 } END { exit !found }'; then
      echo "$name 0 1" >> "$TEST_COUNTS_FILE"
    fi
  fi
done

echo
echo "=== summary ==="
awk '{ p[$1] += $2; f[$1] += $3 } END { for (k in p) printf "  %-24s %5d passed, %d failed\n", k, p[k], f[k] }' "$TEST_COUNTS_FILE" | sort
read -r passed failed < <(awk '{ p += $2; f += $3 } END { print p + 0, f + 0 }' "$TEST_COUNTS_FILE")
rm -f "$TEST_COUNTS_FILE"
[ "$failed" -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit "$status"
