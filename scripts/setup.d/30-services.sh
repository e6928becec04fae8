#!/usr/bin/env bash
# The servers of the multi-node mode, from Debian: PostgreSQL (durable store), Redis (cross-node bus, presence,
# throttles) and HAProxy (the balancer of `npm run cluster` and the cluster tests). Only the binaries are used:
# tests and `npm run cluster` start throwaway instances on loopback ports (server/test/services.ts). Skipped
# when all three are present.
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ]; }
if have redis-server /usr/bin/redis-server && have haproxy /usr/sbin/haproxy && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql redis-server haproxy >/dev/null
# Debian's packages start system-wide instances where a service manager runs; the project never uses them.
for s in redis-server postgresql haproxy; do $SUDO service "$s" stop >/dev/null 2>&1 || true; done
ls /usr/lib/postgresql/*/bin/initdb && redis-server --version && haproxy -v | head -1
