# Shared helpers for scripts/test.d steps: `check NAME CMD...` runs one check and records it as a test.
check() {
  local name=$1
  shift
  if "$@"; then
    echo "ok   $name"
    echo "$name 1 0" >> "${TEST_COUNTS_FILE:-/dev/null}"
  else
    echo "FAIL $name"
    echo "$name 0 1" >> "${TEST_COUNTS_FILE:-/dev/null}"
    return 1
  fi
}
