#!/usr/bin/env bash
# Installs the system tools the test suite needs (Chromium, k6, Python packages ...), idempotently:
# each step in scripts/setup.d/ checks what is already there and skips it. Safe to run again and again.
set -euo pipefail
cd "$(dirname "$0")/.."
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "setup: $(basename "$step" .sh)"
  bash "$step"
done
