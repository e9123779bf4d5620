#!/usr/bin/env bash
# The Pulumi CLI, plus the two Python plugin shims the CLI runs from PATH: the dynamic-provider host
# (pulumi-resource-pulumi-python) and the policy-pack host (pulumi-analyzer-policy-python).
source "$(dirname "$0")/../lib.sh"
cd "$(dirname "$0")"
bin=$1
download_modules github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
version=$(module_version github.com/pulumi/pulumi/pkg/v3)
go build -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
  -o "$bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
install -m 0755 "$(module_dir github.com/pulumi/pulumi/sdk/v3)/python/dist/pulumi-resource-pulumi-python" "$bin/"
# The SDK dropped this shim once its language host could run policy packs; without that host (it is not
# published as a module) the CLI falls back to it. It runs `python -m pulumi.policy`, which the SDK keeps.
policy_shim_sdk=v3.175.0
dir=$(go mod download -json "github.com/pulumi/pulumi/sdk/v3@$policy_shim_sdk" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
install -m 0755 "$dir/python/dist/pulumi-analyzer-policy-python" "$bin/"
