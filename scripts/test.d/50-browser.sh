#!/usr/bin/env bash
# The <chat-app> web component in real Chromium (client/test/*.browser.test.ts): builds the bundle the server
# serves at /chat.js, then runs the browser suite and records it as "browser <passed> <failed>".
cd "$(dirname "$0")/../.."
source scripts/lib.sh
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
  echo "chromium not found: run scripts/setup.sh (scripts/setup.d/20-chromium.sh installs it)"
  echo "browser 0 1" >> "${TEST_COUNTS_FILE:-/dev/null}"
  exit 1
fi
check build-client npm run --silent build:client || exit 1
# The shared count reporter writes "vitest ..."; run it against a private file and rename the suite.
counts=$(mktemp)
TEST_COUNTS_FILE="$counts" npx --no-install vitest run -c vitest.browser.config.ts
status=$?
sed 's/^vitest /browser /' "$counts" >> "${TEST_COUNTS_FILE:-/dev/null}"
rm -f "$counts"
exit "$status"
