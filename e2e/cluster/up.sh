#!/usr/bin/env bash
# Starts the local real-engine cluster (a no-op when it is already up and healthy): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok on 127.0.0.1 only, 3 fake nodes over 2 zones and the
# Istio CRDs; writes build/e2e/env.sh. State in build/e2e/cluster/, logs in build/e2e/logs/.
# Usage (from the project root): e2e/cluster/up.sh     Stop with: e2e/cluster/down.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
e2e=$root/build/e2e
state=$e2e/cluster
pki=$state/pki
logs=$e2e/logs
kubeconfig=$e2e/kubeconfig
crds=$root/../shared/crds/istio-1.30.3-crd-all.gen.yaml
# The fake nodes' pod CIDRs. Routed to lo as local addresses (like 127/8), so a process can serve on any pod
# IP, while the API server still takes them in EndpointSlices (it refuses loopback addresses there).
pod_cidr=10.244.0.0/16
# Uncommon fixed ports, all on loopback.
etcd_port=12379 etcd_peer_port=12380 api_port=16443 kcm_port=16257 sched_port=16259 kwok_port=16247
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
SECONDS=0
say() { printf 'up [%2ss]: %s\n' "$SECONDS" "$*"; }
die() { echo "up: $*" >&2; exit 1; }

bin=$(bash e2e/tools/build.sh --print-dir)
for tool in "${components[@]}" kubectl; do
  [ -x "$bin/$tool" ] || die "e2e tools are not built ($bin/$tool missing): run e2e/tools/build.sh (make e2e-tools) first"
done
[ -f "$crds" ] || die "Istio CRDs not found at $crds (expected shared/ beside the checkout)"
k() { "$bin/kubectl" --kubeconfig "$kubeconfig" --request-timeout 10s "$@"; }
. "$root/e2e/processes.sh"

# Ready, untainted nodes (the node lifecycle controller taints a node until kwok reports it Ready).
ready_nodes() {
  k get nodes -l cloud.google.com/gke-nodepool=apps -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{" "}{.spec.taints}{"\n"}{end}' 2>/dev/null \
    | awk '$1 == "True" && NF == 1' | wc -l
}
healthy() {
  local c
  [ -d "$state" ] || { reason="none found"; return 1; }
  [ -e "$state/complete" ] || { reason="its start did not finish"; return 1; }
  [ "$(cat "$state/bin-dir" 2>/dev/null)" = "$bin" ] || { reason="it was started from other tools"; return 1; }
  for c in "${components[@]}"; do alive "$c" || { reason="$c is not running"; return 1; }; done
  k get --raw /readyz >/dev/null 2>&1 || { reason="kube-apiserver is not ready"; return 1; }
  [ "$(ready_nodes)" -ge 3 ] || { reason="fewer than 3 nodes are Ready"; return 1; }
}

write_env() {
  mkdir -p "$e2e/state"
  cat >"$e2e/env.sh" <<EOF
# Written by e2e/cluster/up.sh: the local e2e cluster and the real-engine tools. Use: . build/e2e/env.sh
export PATH="$bin:\$PATH"
export KUBECONFIG="$kubeconfig"
export PULUMI_BACKEND_URL="file://$e2e/state"
export PULUMI_CONFIG_PASSPHRASE=e2e-local-only
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_HOME="$(dirname "$bin")/pulumi-home"
# The data plane that e2e/mesh/up.sh starts: the ingress gateway's listeners and the pod servers' control API.
export E2E_GATEWAY_HTTP=127.0.0.1:18080
export E2E_GATEWAY_HTTPS=127.0.0.1:18443
export E2E_POD_SERVERS=127.0.0.1:16091
export E2E_GATEWAY_STATS=127.0.0.1:16090
EOF
}

# One up.sh at a time (two would both see "not running" and race to start).
mkdir -p "$e2e"
exec 9>"$e2e/.up.lock"
flock 9
reason=
if healthy; then
  write_env
  say "cluster already running and healthy; wrote build/e2e/env.sh"
  exit 0
fi
say "starting a fresh cluster (existing cluster: $reason)"
# Whatever is left (dead pids, a half-started control plane, old data, Pulumi state about it) is not
# trusted: start clean.
bash "$root/e2e/cluster/down.sh"
for port in $etcd_port $etcd_peer_port $api_port $kcm_port $sched_port $kwok_port; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port 127.0.0.1:$port is in use by another process (another checkout's cluster? run its down.sh)"
  fi
done
mkdir -p "$pki" "$logs"
ip route replace local "$pod_cidr" dev lo table local 2>/dev/null \
  || die "cannot route the pod CIDR $pod_cidr to lo (needs root or CAP_NET_ADMIN): ip route add local $pod_cidr dev lo table local"

# --- PKI: one CA, the apiserver's serving cert, a client cert per component, the service-account key.
if ! command -v openssl >/dev/null; then
  [ "$(id -u)" = 0 ] || die "openssl is missing: apt-get install openssl"
  say "installing openssl"
  apt-get update -qq && apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${newkey[@]}" -keyout "$pki/ca.key" -out "$pki/ca.crt" -days 3650 -subj /CN=bluegreen-e2e-ca 2>/dev/null
cert() {  # name subject extensions
  openssl req -new "${newkey[@]}" -keyout "$pki/$1.key" -subj "$2" 2>/dev/null \
    | openssl x509 -req -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
        -extfile <(printf '%s\n' "$3") -out "$pki/$1.crt" 2>/dev/null
}
cert apiserver /CN=kube-apiserver "keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
client="keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
cert admin "/O=system:masters/CN=bluegreen-e2e-admin" "$client"
cert kube-controller-manager /CN=system:kube-controller-manager "$client"
cert kube-scheduler /CN=system:kube-scheduler "$client"
cert kwok "/O=system:masters/CN=kwok" "$client"   # kwok writes node and pod status and leases
# The aggregation layer's identity; without it the components' delegated authn logs errors non-stop.
cert front-proxy-client /CN=front-proxy-client "$client"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/sa.key" 2>/dev/null
openssl pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null

write_kubeconfig() {  # file cert-name
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: bluegreen-e2e
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $(base64 -w0 "$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$pki/$2.crt")
    client-key-data: $(base64 -w0 "$pki/$2.key")
contexts:
- name: bluegreen-e2e
  context: {cluster: bluegreen-e2e, user: $2}
current-context: bluegreen-e2e
EOF
  chmod 600 "$1"
}
write_kubeconfig "$kubeconfig" admin
for c in kube-controller-manager kube-scheduler kwok; do write_kubeconfig "$state/$c.kubeconfig" "$c"; done
echo "$bin" >"$state/bin-dir"

# --- Processes (e2e/processes.sh): detached, one pid file and log each, run from the project root.

# No fsync: a throwaway test store, and fsync dominates etcd latency on CI disks.
start "$root" etcd "$bin/etcd" --name e2e --data-dir "$state/etcd" --unsafe-no-fsync --log-level warn \
  --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
  --initial-cluster "e2e=http://127.0.0.1:$etcd_peer_port"
wait_for etcd 30 probe "http://127.0.0.1:$etcd_port/health"
say "etcd up on 127.0.0.1:$etcd_port"

# No endpoint reconciler: it would publish the loopback address as the `kubernetes` Service endpoint.
start "$root" kube-apiserver "$bin/kube-apiserver" --bind-address 127.0.0.1 --secure-port "$api_port" --advertise-address 127.0.0.1 \
  --etcd-servers "http://127.0.0.1:$etcd_port" --endpoint-reconciler-type none \
  --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" --client-ca-file "$pki/ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 --authorization-mode Node,RBAC --allow-privileged \
  --requestheader-client-ca-file "$pki/ca.crt" --requestheader-allowed-names front-proxy-client \
  --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
  --requestheader-extra-headers-prefix X-Remote-Extra- \
  --proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
  --cert-dir "$state/kube-apiserver" --profiling=false
wait_for kube-apiserver 60 k get --raw /readyz
say "kube-apiserver ready on https://127.0.0.1:$api_port"

# Leader election off: a single instance, and a restart would otherwise wait out the old lease.
common=(--bind-address 127.0.0.1 --leader-elect=false --profiling=false)
start "$root" kube-controller-manager "$bin/kube-controller-manager" "${common[@]}" --secure-port "$kcm_port" --cert-dir "$state/kube-controller-manager" \
  --kubeconfig "$state/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig "$state/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig "$state/kube-controller-manager.kubeconfig" \
  --use-service-account-credentials --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
  --cluster-signing-cert-file "$pki/ca.crt" --cluster-signing-key-file "$pki/ca.key"
start "$root" kube-scheduler "$bin/kube-scheduler" "${common[@]}" --secure-port "$sched_port" --cert-dir "$state/kube-scheduler" \
  --kubeconfig "$state/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig "$state/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig "$state/kube-scheduler.kubeconfig"

# kwok's stages, as pinned by e2e/tools/kwok: the upstream "fast" node and pod lifecycle (nodes Ready with
# lease heartbeats; pods Running and Ready at once, native sidecars included; Job pods complete).
kwok_src=$(cd e2e/tools/kwok && GOFLAGS=-mod=readonly GOTOOLCHAIN=local go mod download -json sigs.k8s.io/kwok \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
[ -d "$kwok_src/kustomize/stage" ] || die "cannot locate the pinned kwok module's stages (needs go and the module proxy or cache)"
for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
  pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  echo ---; cat "$kwok_src/kustomize/stage/$f.yaml"
done >"$state/kwok-stages.yaml"
# HOME inside the state dir: kwok otherwise also loads ~/.kwok/kwok.yaml. The lease duration is kwokctl's
# default (bare kwok's is 0: no node leases, and the node lifecycle controller marks nodes NotReady after 50 s).
mkdir -p "$state/kwok-home"
HOME=$state/kwok-home start "$root" kwok "$bin/kwok" --kubeconfig "$state/kwok.kubeconfig" --config "$state/kwok-stages.yaml" \
  --manage-nodes-with-label-selector type=kwok --node-lease-duration-seconds 40 \
  --server-address "127.0.0.1:$kwok_port" --node-ip 127.0.0.1

wait_for kube-controller-manager 60 probe "https://127.0.0.1:$kcm_port/healthz"
wait_for kube-scheduler 60 probe "https://127.0.0.1:$sched_port/healthz"
wait_for kwok 60 probe "http://127.0.0.1:$kwok_port/healthz"
say "kube-controller-manager, kube-scheduler and kwok up"

# --- Fake nodes: 2 in zone a, 1 in zone b; a per-node pod CIDR and loopback addresses for kwok's pod IPs.
nodes() {
  local i=0 name zone
  for name in apps-a-0 apps-b-0 apps-a-1; do
    zone=asia-northeast3-${name:5:1}; i=$((i + 1))
    cat <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations: {node.alpha.kubernetes.io/ttl: "0"}
  labels:
    type: kwok
    cloud.google.com/gke-nodepool: apps
    topology.kubernetes.io/region: asia-northeast3
    topology.kubernetes.io/zone: $zone
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    beta.kubernetes.io/os: linux
    beta.kubernetes.io/arch: amd64
spec:
  podCIDR: 10.244.$i.0/24
  podCIDRs: [10.244.$i.0/24]
status:
  addresses:
  - {type: InternalIP, address: 127.0.0.$((10 + i))}
  - {type: Hostname, address: $name}
  allocatable: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
  capacity: {cpu: "16", memory: 64Gi, pods: "110", ephemeral-storage: 100Gi}
  nodeInfo: {architecture: amd64, operatingSystem: linux}
EOF
  done
}
nodes | k create -f - >/dev/null
say "created 3 kwok nodes"

k apply --server-side --force-conflicts -f "$crds" >/dev/null
k wait --for condition=Established --timeout 60s -f "$crds" >/dev/null
say "Istio CRDs established"

deadline=$((SECONDS + 60))
until [ "$(ready_nodes)" -ge 3 ] && [ "$(k -n kube-node-lease get leases -o name 2>/dev/null | wc -l)" -ge 3 ] \
  && k -n default get serviceaccount default >/dev/null 2>&1; do
  [ $SECONDS -lt $deadline ] || die "nodes, their leases or the default service account not ready after 60s (logs: $logs)"
  sleep 0.5
done
write_env
touch "$state/complete"
say "cluster ready: 3 nodes Ready; env in build/e2e/env.sh (. build/e2e/env.sh && kubectl get nodes)"
