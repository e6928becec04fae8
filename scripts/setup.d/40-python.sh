#!/usr/bin/env bash
# The Python client of the conformance suite (conformance/python/): a venv in .cache/venv with the pinned
# packages of conformance/python/requirements.txt, and Python code generated from proto/ into
# conformance/python/gen/ (gitignored: it must match the installed protobuf runtime). Skips each part
# when it is already up to date.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.cache/venv
req=conformance/python/requirements.txt
gen=conformance/python/gen

if ! command -v python3 >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi

want="$(python3 --version 2>&1) $(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.installed" 2>/dev/null)" = "$want" ]; then
  :
else
  if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  echo "$want" > "$venv/.installed"
  echo "python: installed $(tr '\n' ' ' < <(grep -v '^#' "$req"))"
fi

# Regenerate when a .proto file or the generator changed.
stamp="$(cat proto/chat/v1/*.proto third_party/protovalidate/buf/validate/validate.proto "$venv/.installed" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$gen/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$gen"
  mkdir -p "$gen"
  # validate.proto is generated too: the contract's files import it for their buf.validate rules.
  "$venv/bin/python" -m grpc_tools.protoc -I proto -I third_party/protovalidate --python_out="$gen" \
    proto/chat/v1/*.proto third_party/protovalidate/buf/validate/validate.proto
  echo "$stamp" > "$gen/.stamp"
  echo "python: generated $(ls "$gen"/chat/v1/*_pb2.py | wc -l) modules into $gen"
fi
