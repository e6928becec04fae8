#!/usr/bin/env bash
# Type checks, one per program: Node code (tsconfig.json: server, conformance, load, scripts; no DOM), the
# SDK as Node code, the web component as browser code (no Node types) and the client's browser tests.
set -uo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
status=0
check typecheck-node npx --no-install tsc --noEmit -p tsconfig.json || status=1
check typecheck-client-node npx --no-install tsc --noEmit -p client/tsconfig.node.json || status=1
check typecheck-client-browser npx --no-install tsc --noEmit -p client/tsconfig.browser.json || status=1
check typecheck-client-tests npx --no-install tsc --noEmit -p client/tsconfig.test.json || status=1
exit $status
