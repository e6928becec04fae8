#!/usr/bin/env bash
# Lint and format gate: oxlint with its type-aware rules (floating and misused promises, awaits of
# non-promises, sorts without a comparator, unused code, and oxlint's correctness set; .oxlintrc.json) and
# the oxfmt formatter's check (.oxfmtrc.json, 140 columns; `npm run format` fixes it). Records "lint" and "format".
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
status=0
check lint node_modules/.bin/oxlint --type-aware --deny-warnings . || status=1
check format node_modules/.bin/oxfmt --check . || status=1
exit $status
