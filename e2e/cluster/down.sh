#!/usr/bin/env bash
# Stops the local e2e cluster that e2e/cluster/up.sh started and removes its state (logs are kept).
# Idempotent. Usage (any directory): e2e/cluster/down.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
e2e=$root/build/e2e
state=$e2e/cluster
say() { echo "down: $*"; }

# The data plane first (e2e/mesh/up.sh), then the control plane.
components=(python3 envoy pilot-agent pilot-discovery kwok kube-scheduler kube-controller-manager kube-apiserver etcd)

# Our processes: one of our binaries whose command line names this checkout's cluster dir.
# (Both checks, so a reused pid or an unrelated process is never signalled.)
ours() {
  local pid=$1 exe
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=${exe% (deleted)}   # the tool cache may have been rebuilt or removed since
  exe=${exe##*/}
  case $exe in python3*) exe=python3 ;; esac   # the pod servers
  case " ${components[*]} " in *" $exe "*) ;; *) return 1 ;; esac
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$state/"
}

pids=()
for c in "${components[@]}"; do
  pid=$(cat "$state/$c.pid" "$state/mesh/$c.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && ours "$pid"; then pids+=("$pid"); say "stopping $c (pid $pid)"; fi
done
# Stragglers: started by an up.sh whose pid files are gone (interrupted start, removed dir).
for dir in /proc/[0-9]*; do
  pid=${dir#/proc/}
  case " ${pids[*]} " in *" $pid "*) continue ;; esac
  if ours "$pid"; then pids+=("$pid"); say "stopping straggler $(readlink "/proc/$pid/exe") (pid $pid)"; fi
done

if [ ${#pids[@]} -gt 0 ]; then
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do   # up to 10 s for a clean shutdown, then force
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && break
    sleep 0.2
  done
  for pid in "${alive[@]}"; do say "killing pid $pid"; kill -KILL "$pid" 2>/dev/null || true; done
fi

[ ${#pids[@]} -gt 0 ] || say "no cluster processes running"
rm -rf "$state" "$e2e/env.sh" "$e2e/kubeconfig" "$e2e/state"
ip route del local 10.244.0.0/16 dev lo table local 2>/dev/null || true   # up.sh's pod CIDR route
say "removed build/e2e/{cluster,env.sh,kubeconfig,state} (logs kept in build/e2e/logs)"
