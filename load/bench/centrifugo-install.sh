#!/usr/bin/env bash
# Builds Centrifugo 6.9.1 (the bench peer) once into .cache/centrifugo/v6.9.1/ and prints the binary's path.
# Run by load/bench/bench.ts only when --servers names centrifugo (never by npm test). Needs Go and the module proxy.
set -euo pipefail
VERSION=v6.9.1
cd "$(dirname "$0")/../.."
DIR="$PWD/.cache/centrifugo/$VERSION"
BIN="$DIR/centrifugo"
if [[ ! -x "$BIN" ]]; then
  command -v go >/dev/null || { echo "centrifugo-install: go is not on PATH (needed once to build Centrifugo $VERSION)" >&2; exit 1; }
  mkdir -p "$DIR"
  echo "centrifugo-install: building github.com/centrifugal/centrifugo/v6@$VERSION into $DIR (once; a few minutes)" >&2
  # Built into a temp dir and moved, so an interrupted build never leaves a half-written binary behind.
  TMP=$(mktemp -d "$DIR/build.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
  # nice: the machine is shared; the build is a one-off.
  GOBIN="$TMP" nice -n 10 go install "github.com/centrifugal/centrifugo/v6@$VERSION" >&2
  mv "$TMP/centrifugo" "$BIN"
fi
echo "$BIN"
