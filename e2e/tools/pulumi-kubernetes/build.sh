#!/usr/bin/env bash
# Builds pulumi-resource-kubernetes, the provider plugin the Pulumi engine loads, into $1.
source "$(dirname "$0")/../lib.sh"
bin=$(cd "$1" && pwd)
cd "$(dirname "$0")"
download_modules

# Upstream's `make` stamps this version (pulumictl's form for master commit f47bc2d: the 4.25.0
# pre-release that PyPI publishes as pulumi-kubernetes==4.25.0a1768448096); keep the Python SDK pin equal.
version=4.25.0-alpha.1768448096
pkg=github.com/pulumi/pulumi-kubernetes/provider/v4/cmd/pulumi-resource-kubernetes
src=$(go list -e -f '{{.Dir}}' "$pkg")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# main.go embeds schema-embed.json and terraform-mapping-embed.json, which upstream's `go generate`
# (generate.go, build-tagged ignore) writes beside schema.json. The module cache is read-only and
# -overlay may not replace files in it, so: run that generator in a scratch dir, and compile main.go
# with its outputs as a virtual package ./plugin of this module (overlay only: nothing is written here).
cp "$src/schema.json" "$src/terraform-mapping.json" "$work/"
go build -o "$work/generate" "$src/generate.go"
(cd "$work" && VERSION=$version ./generate)
cat >"$work/overlay.json" <<JSON
{"Replace": {
  "$PWD/plugin/main.go": "$src/main.go",
  "$PWD/plugin/schema-embed.json": "$work/schema-embed.json",
  "$PWD/plugin/terraform-mapping-embed.json": "$work/terraform-mapping-embed.json"
}}
JSON

go build -overlay "$work/overlay.json" -o "$bin/pulumi-resource-kubernetes" \
  -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$version" ./plugin
