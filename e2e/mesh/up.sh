#!/usr/bin/env bash
# Starts the e2e tier's data plane on the local cluster (a no-op when it is already up and healthy):
#   istiod          pilot-discovery as a local process, with the mesh config our IstioOperator renders
#   ingress gateway pilot-agent `proxy router` running upstream Envoy, for a fake (kwok) gateway pod
#   pod servers     one real HTTPS server per Ready pod of our Deployments (e2e/mesh/pod_servers.py)
# All on loopback and the fake pods' IPs (10.244/16, routed to lo by e2e/cluster/up.sh). State in
# build/e2e/cluster/mesh/ (removed by e2e/cluster/down.sh), logs in build/e2e/logs/.
# Usage (from the project root, after e2e/cluster/up.sh): e2e/mesh/up.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
e2e=$root/build/e2e
state=$e2e/cluster/mesh
logs=$e2e/logs
kubeconfig=$e2e/kubeconfig
python=$root/venv/bin/python
# Uncommon fixed ports, on loopback (the gateway's listeners bind Envoy's wildcard, as on a real gateway pod).
istiod_http=16080 istiod_grpc=16010 istiod_xds=16012 istiod_monitoring=16014 istiod_webhook=16017 istiod_ctrlz=16876
envoy_admin=16000 agent_status=16020 envoy_health=16021 envoy_prometheus=16090 pod_servers=16091
gateway_http=18080 gateway_https=18443
components=(pilot-discovery pilot-agent python3)
SECONDS=0
say() { printf 'mesh [%2ss]: %s\n' "$SECONDS" "$*"; }
die() { echo "mesh: $*" >&2; exit 1; }

bin=$(bash e2e/tools/build.sh --print-dir)
for tool in pilot-discovery pilot-agent envoy istioctl kubectl; do
  [ -x "$bin/$tool" ] || die "e2e tools are not built ($bin/$tool missing): run make e2e-tools first"
done
[ -x "$python" ] || die "the project venv is missing: run make deps first"
[ -e "$e2e/cluster/complete" ] || die "the local cluster is not up: run e2e/cluster/up.sh (make e2e-env) first"
k() { "$bin/kubectl" --kubeconfig "$kubeconfig" --request-timeout 10s "$@"; }
. "$root/e2e/processes.sh"   # alive, start (Istio's binaries run in their dir: they use ./etc and ./var), wait_for, probe
healthy() {
  local c
  [ -e "$state/complete" ] || return 1
  for c in "${components[@]}"; do alive "$c" || return 1; done
  probe "http://127.0.0.1:$istiod_http/ready" && probe "http://127.0.0.1:$agent_status/healthz/ready" \
    && probe "http://127.0.0.1:$pod_servers/healthz"
}

exec 9>"$e2e/.mesh.lock"
flock 9
if healthy; then
  say "data plane already running and healthy"
  exit 0
fi
# Whatever is left of an earlier start is not trusted.
for c in "${components[@]}"; do
  if alive "$c"; then kill "$(cat "$state/$c.pid")" 2>/dev/null || true; fi
done
pkill -f -- "$state/gateway/" 2>/dev/null || true   # the gateway's envoy, started by its pilot-agent
rm -rf "$state"
mkdir -p "$state/istiod" "$state/gateway/etc/istio/config" "$state/gateway/var/run/secrets/tokens" \
  "$state/gateway/var/run/secrets/istio" "$logs"

# --- Mesh config: what our IstioOperator renders (the stg stack's; local installs no mesh of its own).
"$python" -m cli plan --stack stg >"$logs/mesh-plan.log" 2>&1 || die "the offline plan failed (log: $logs/mesh-plan.log)"
"$bin/istioctl" manifest generate -f build/stg/manifests/istiooperator-istio-system-istio.yaml 2>"$logs/mesh-generate.log" \
  | "$python" e2e/mesh/mesh_config.py "127.0.0.1:$istiod_xds" >"$state/mesh.yaml" \
  || die "rendering the mesh config failed (log: $logs/mesh-generate.log)"
cp "$state/mesh.yaml" "$state/gateway/etc/istio/config/mesh"
# pilot-agent renders Envoy's bootstrap from the template the proxy image ships; it is in the pinned module.
istio_src=$(cd e2e/tools/istioctl && go list -m -f '{{.Dir}}' istio.io/istio)
mkdir -p "$state/gateway/var/lib/istio/envoy"
cp "$istio_src/tools/packaging/common/envoy_bootstrap.json" "$state/gateway/var/lib/istio/envoy/envoy_bootstrap_tmpl.json"
say "mesh config from the stg IstioOperator: $state/mesh.yaml"

# --- What `istioctl install` would create for the gateway: its namespace, identity, Service and (fake) pod.
# Labelled apart from the product's objects; the Service maps the Gateway's ports 80/443 to Envoy's listeners.
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata: {name: istio-system, labels: {app.kubernetes.io/part-of: bluegreen-e2e-mesh}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: istio-ingressgateway-service-account, namespace: istio-system, labels: {app.kubernetes.io/part-of: bluegreen-e2e-mesh}}
---
apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system, labels: {app.kubernetes.io/part-of: bluegreen-e2e-mesh, istio: ingressgateway}}
spec:
  selector: {istio: ingressgateway}
  ports:
  - {name: http2, port: 80, targetPort: $gateway_http}
  - {name: https, port: 443, targetPort: $gateway_https}
---
apiVersion: v1
kind: Pod
metadata:
  name: istio-ingressgateway-e2e
  namespace: istio-system
  labels: {app.kubernetes.io/part-of: bluegreen-e2e-mesh, istio: ingressgateway, app: istio-ingressgateway}
spec:
  serviceAccountName: istio-ingressgateway-service-account
  nodeSelector: {type: kwok}
  tolerations: [{operator: Exists}]
  containers:
  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.4, ports: [{containerPort: $gateway_http}, {containerPort: $gateway_https}]}
EOF

# --- istiod. The two switches are what upstream Envoy needs (it lacks Istio's metadata exchange and ALPN
# filters); the rest is how the chart runs istiod, on local ports.
POD_NAME=istiod-e2e POD_NAMESPACE=istio-system REVISION=default CLUSTER_ID=Kubernetes PILOT_CERT_PROVIDER=istiod \
  PILOT_ENABLE_METADATA_EXCHANGE=false PILOT_ENABLE_ALPN_FILTER=false ENABLE_CA_SERVER=true \
  start "$state/istiod" pilot-discovery "$bin/pilot-discovery" discovery --kubeconfig "$kubeconfig" \
  --meshConfig "$state/mesh.yaml" --networksConfig "$state/istiod/meshNetworks" \
  --httpAddr "127.0.0.1:$istiod_http" --grpcAddr "127.0.0.1:$istiod_grpc" --secureGRPCAddr "127.0.0.1:$istiod_xds" \
  --monitoringAddr "127.0.0.1:$istiod_monitoring" --httpsAddr "127.0.0.1:$istiod_webhook" \
  --ctrlz_port "$istiod_ctrlz" --ctrlz_address 127.0.0.1 --keepaliveMaxServerConnectionAge 30m --log_output_level default:info
wait_for pilot-discovery 60 probe "http://127.0.0.1:$istiod_http/ready"
say "istiod ready on 127.0.0.1:$istiod_xds (memory: $(($(awk '/VmRSS/ {print $2}' "/proc/$(cat "$state/pilot-discovery.pid")/status") / 1024)) MB)"

# --- The gateway: its pod's IP and identity (a TokenRequest token, audience istio-ca) and istiod's root cert.
deadline=$((SECONDS + 60))
until gateway_ip=$(k -n istio-system get pod istio-ingressgateway-e2e -o jsonpath='{.status.podIP}') && [ -n "$gateway_ip" ] \
  && k -n istio-system get configmap istio-ca-root-cert -o jsonpath='{.data.root-cert\.pem}' >"$state/gateway/var/run/secrets/istio/root-cert.pem" \
  && [ -s "$state/gateway/var/run/secrets/istio/root-cert.pem" ]; do
  [ $SECONDS -lt $deadline ] || die "the gateway pod has no IP or istiod published no root cert after 60s"
  sleep 0.5
done
k -n istio-system create token istio-ingressgateway-service-account --audience istio-ca --duration 48h \
  >"$state/gateway/var/run/secrets/tokens/istio-token"
# proxyStatsMatcher: Envoy's per-cluster request stats, which Istio's default inclusion list leaves out; the
# real-traffic gate tests read them in place of Istio's request metrics (docs/real-traffic.md).
proxy_config=$(printf '{"discoveryAddress":"127.0.0.1:%s","binaryPath":"%s","configPath":"%s","proxyAdminPort":%s,"statusPort":%s,"drainDuration":"5s","proxyStatsMatcher":{"inclusionPrefixes":["cluster.outbound|"]}}' \
  "$istiod_xds" "$bin/envoy" "$state/gateway/proxy" "$envoy_admin" "$agent_status")
POD_NAME=istio-ingressgateway-e2e POD_NAMESPACE=istio-system INSTANCE_IP=$gateway_ip \
  SERVICE_ACCOUNT=istio-ingressgateway-service-account ISTIO_META_CLUSTER_ID=Kubernetes TRUST_DOMAIN=cluster.local \
  PILOT_CERT_PROVIDER=istiod CA_ADDR="127.0.0.1:$istiod_xds" ISTIOD_SAN=istiod.istio-system.svc JWT_POLICY=third-party-jwt \
  ENVOY_STATUS_PORT=$envoy_health ENVOY_PROMETHEUS_PORT=$envoy_prometheus PROXY_CONFIG="$proxy_config" \
  ISTIO_META_WORKLOAD_NAME=istio-ingressgateway ISTIO_META_MESH_ID=cluster.local \
  ISTIO_METAJSON_LABELS='{"istio":"ingressgateway","app":"istio-ingressgateway"}' \
  start "$state/gateway" pilot-agent "$bin/pilot-agent" proxy router --domain istio-system.svc.cluster.local \
  --meshConfig "$state/gateway/etc/istio/config/mesh" --proxyLogLevel warning --concurrency 1
wait_for pilot-agent 60 probe "http://127.0.0.1:$agent_status/healthz/ready"
say "ingress gateway ready: http://127.0.0.1:$gateway_http, https://127.0.0.1:$gateway_https (pod IP $gateway_ip)"

# --- The pod servers.
start "$state" python3 "$python" "$root/e2e/mesh/pod_servers.py" --kubeconfig "$kubeconfig" \
  --state "$state/pods" --listen "127.0.0.1:$pod_servers"
wait_for python3 60 probe "http://127.0.0.1:$pod_servers/healthz"
touch "$state/complete"
say "pod servers ready (control API: http://127.0.0.1:$pod_servers/pods); data plane up"
