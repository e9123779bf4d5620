#!/usr/bin/env bash
# The Pulumi CLI, plus the SDK's dynamic-provider host shim (pulumi-resource-pulumi-python), which the
# CLI runs from PATH for the switch gate and the scale-down delay.
source "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")"
bin=$1
download_modules github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
version=$(module_version github.com/pulumi/pulumi/pkg/v3)
go build -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
  -o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
install -m 0755 "$(module_dir github.com/pulumi/pulumi/sdk/v3)/python/dist/pulumi-resource-pulumi-python" "$bin/"
