# Shared by the tool groups' build.sh scripts (sourced, not run).
# Every group builds from its own wrapper module in e2e/tools/<group>/, whose go.mod and go.sum are the pins.
set -euo pipefail
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=readonly -buildvcs=false" GOTOOLCHAIN=local

# Fetches the modules that the named packages need (all of go.mod's graph without arguments; that can
# include versions the proxy no longer serves), retrying transient module-proxy failures. The build
# itself is not retried: a compile error is final.
download_modules() {
  local attempt
  for attempt in 1 2 3 4; do
    if [ $# -gt 0 ]; then go list -deps "$@" >/dev/null; else go mod download; fi && return 0
    echo "go mod download failed (attempt $attempt); retrying in $((attempt * 10))s" >&2
    sleep $((attempt * 10))
  done
  return 1
}

# The version go.mod pins for a module, e.g. `module_version k8s.io/kubernetes`.
module_version() {
  go list -m -f '{{.Version}}' "$1"
}

# The module's source directory in the module cache (downloaded if needed).
module_dir() {
  go list -m -f '{{.Dir}}' "$1"
}
