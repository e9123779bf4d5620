#!/usr/bin/env bash
# Builds kwok (fake nodes and pod lifecycle for the local control plane) into the bin dir "$1".
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bin=$(mkdir -p "$1" && cd "$1" && pwd)   # absolute: we cd below
cd "$(dirname "$0")"
download_modules
version=$(module_version sigs.k8s.io/kwok)
# The same stamp as upstream's hack/releases.sh, so `kwok --version` reports the pinned module.
go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$version" \
  -o "$bin/kwok" sigs.k8s.io/kwok/cmd/kwok
"$bin/kwok" --version
