#!/usr/bin/env bash
# vitest: contract round-trips, server, SDK, conformance and load unit/integration tests (Node).
cd "$(dirname "$0")/../.."
exec npx --no-install vitest run
