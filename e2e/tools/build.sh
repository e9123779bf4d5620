#!/usr/bin/env bash
# `make e2e-tools`: builds the real-engine toolchain once into a cache keyed by the pins in e2e/tools/,
# and is a no-op when that build is complete. Prints the bin directory on its last line.
# Usage: e2e/tools/build.sh [--print-dir]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
groups=(pulumi pulumi-kubernetes etcd kubernetes kwok istioctl envoy)

# Key: every pin and build script of every group, so a version bump builds a new directory.
key=$(cd "$here" && find . -type f \( -name go.mod -o -name go.sum -o -name '*.sh' -o -name '*.go' -o -name requirements.txt \) \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)
cache=${BLUEGREEN_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-platform/e2e}/$key
if [ "${1:-}" = "--print-dir" ]; then echo "$cache/bin"; exit 0; fi

mkdir -p "$cache/bin" "$cache/logs"
total_start=$(date +%s)
for group in "${groups[@]}"; do
  [ -e "$cache/.done-$group" ] && continue
  start=$(date +%s)
  echo "building $group ..."
  if ! bash "$here/$group/build.sh" "$cache/bin" >"$cache/logs/$group.log" 2>&1; then
    tail -n 40 "$cache/logs/$group.log" >&2
    echo "e2e-tools: building $group failed (full log: $cache/logs/$group.log)" >&2
    exit 1
  fi
  touch "$cache/.done-$group"
  echo "built $group in $(( $(date +%s) - start ))s"
done
# Register the provider plugin in the toolchain's own PULUMI_HOME (build/e2e/env.sh points there) and take
# it off PATH, so the CLI loads exactly this registered build and never tries to download one.
if [ ! -e "$cache/.done-plugins" ]; then
  version=$(sed -n 's/^version=//p' "$here/pulumi-kubernetes/build.sh")
  PULUMI_HOME="$cache/pulumi-home" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true \
    "$cache/bin/pulumi" plugin install resource kubernetes "$version" --file "$cache/bin/pulumi-resource-kubernetes" >/dev/null
  rm "$cache/bin/pulumi-resource-kubernetes"
  touch "$cache/.done-plugins"
fi
if [ ! -e "$cache/.complete" ]; then
  touch "$cache/.complete"
  echo "toolchain built in $(( $(date +%s) - total_start ))s; disk: $(du -sh "$cache" | cut -f1)"
fi
echo "$cache/bin"
