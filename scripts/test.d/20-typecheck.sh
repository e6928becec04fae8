#!/usr/bin/env bash
# tsc --noEmit over the whole repo.
cd "$(dirname "$0")/../.."
source scripts/lib.sh
check typecheck npx --no-install tsc --noEmit -p tsconfig.json
