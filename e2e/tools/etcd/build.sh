#!/usr/bin/env bash
# Builds etcd (3.5.x: Debian's 3.4 is too old for Kubernetes 1.33) into the bin dir "$1".
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bin=$(mkdir -p "$1" && cd "$1" && pwd)   # absolute: we cd below
cd "$(dirname "$0")"
download_modules
version=$(module_version go.etcd.io/etcd/server/v3)
# etcd's version is a constant in api/v3; GitSHA is the only stamp left to set.
go build -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$version" -o "$bin/etcd" .
"$bin/etcd" --version
