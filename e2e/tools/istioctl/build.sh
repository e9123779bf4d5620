#!/usr/bin/env bash
# Builds istioctl into $1 (charts are embedded, so `manifest generate` and `analyze --use-kube=false` run offline),
# and from the same pins pilot-discovery (istiod) and pilot-agent (the gateway's agent) for the real-traffic e2e tier.
source "$(dirname "$0")/../lib.sh"
bin=$(cd "$1" && pwd)
cd "$(dirname "$0")"
download_modules

# istio.io/istio's tags have no "v", so go.mod pins a pseudo-version: release-1.30 commit 9739e10eb9d7,
# which is Istio 1.30.4. Stamp it as Istio's release build does (common/scripts/report_build_info.sh):
# the hub and tag are also the default images that `istioctl manifest generate` renders.
version=1.30.4
rev=$(module_version istio.io/istio)
v=istio.io/istio/pkg/version
go build -o "$bin/istioctl" -ldflags "-s -w \
  -X $v.buildVersion=$version -X $v.buildGitRevision=${rev##*-} -X $v.buildStatus=Clean -X $v.buildTag=$version \
  -X $v.buildHub=docker.io/istio -X $v.buildOS=$(go env GOOS) -X $v.buildArch=$(go env GOARCH)" \
  istio.io/istio/istioctl/cmd/istioctl
for cmd in pilot-discovery pilot-agent; do
  go build -o "$bin/$cmd" -ldflags "-s -w -X $v.buildVersion=$version -X $v.buildGitRevision=${rev##*-} \
    -X $v.buildStatus=Clean -X $v.buildTag=$version -X $v.buildHub=docker.io/istio" "istio.io/istio/pilot/cmd/$cmd"
done
