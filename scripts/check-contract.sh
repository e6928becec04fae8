#!/usr/bin/env bash
# Contract checks: buf lint (STANDARD), buf format, generated code fresh, buf breaking against the
# previous contract. Usable alone (`npm run check:contract`) or as a step of the test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
buf=node_modules/.bin/buf
status=0

check buf-lint "$buf" lint || status=1
check buf-format "$buf" format --diff --exit-code || status=1

fresh() {
  local tmp
  tmp=$(mktemp -d)
  cp -r proto/gen "$tmp/gen"
  "$buf" generate || return 1
  if ! diff -r "$tmp/gen" proto/gen; then
    echo "generated code under proto/gen is stale: run 'npm run gen' and commit the result"
    rm -rf proto/gen && cp -r "$tmp/gen" proto/gen
    return 1
  fi
  rm -rf "$tmp"
}
check generated-code-fresh fresh || status=1

# What "the previous contract" is: BUF_AGAINST if set; otherwise, in a clone whose origin/main is behind
# HEAD, the merge base with origin/main (what has landed); otherwise (CI on a fresh clone of main) the
# parent of the newest commit that changed the contract.
against_ref() {
  if [ -n "${BUF_AGAINST:-}" ]; then echo "$BUF_AGAINST"; return; fi
  local base
  if base=$(git merge-base HEAD origin/main 2>/dev/null) && [ "$base" != "$(git rev-parse HEAD)" ]; then
    echo "$base"; return
  fi
  local last
  last=$(git log -1 --format=%H -- proto/chat 2>/dev/null) || return
  [ -n "$last" ] && git rev-parse --verify -q "$last^" >/dev/null && echo "$last^"
}
breaking() {
  local ref
  ref=$(against_ref)
  if [ -z "$ref" ] || [ -z "$(git ls-tree -r --name-only "$ref" -- proto/chat 2>/dev/null)" ]; then
    echo "buf breaking: no previous commit with a contract; skipped"
    return 0
  fi
  echo "buf breaking against $(git rev-parse --short "$ref")"
  # The chat module alone: the workspace also holds the vendored validate.proto (third_party/), and a
  # workspace of two modules cannot be compared with a contract from before it had the second one.
  "$buf" breaking proto --against ".git#ref=$(git rev-parse "$ref"),subdir=proto"
}
check buf-breaking breaking || status=1
exit $status
