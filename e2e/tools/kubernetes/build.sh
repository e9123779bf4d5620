#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl into the bin dir "$1".
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
bin=$(mkdir -p "$1" && cd "$1" && pwd)   # absolute: we cd below
cd "$(dirname "$0")"
download_modules
version=$(module_version k8s.io/kubernetes)   # e.g. v1.33.13
major=${version#v}; major=${major%%.*}
minor=${version#v*.}; minor=${minor%%.*}
# The same stamps as upstream's hack/lib/version.sh, so `kubectl version` and /version report $version.
ldflags="-s -w"
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
# One invocation, so the four commands share the compile of their common packages.
go build -ldflags "$ldflags" -o "$bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver \
  k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kubectl
"$bin/kubectl" version --client
