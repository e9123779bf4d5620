# The e2e tier's process helpers, sourced by e2e/cluster/up.sh and e2e/mesh/up.sh (not run).
# The sourcing script sets $state (pid files), $logs (one log per process) and defines die().

# The process of pid file $state/NAME.pid is running and is ours (its command line names $state).
alive() {  # name
  local pid
  pid=$(cat "$state/$1.pid" 2>/dev/null) && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$state/"
}

# Runs a command detached (setsid) in DIR so it outlives the script, logging to $logs/NAME.log.
# The process writes its own pid: `$!` would be wrong whenever setsid forks (when the command happens to
# lead a process group). Nothing of the script stays behind holding its lock (fd 9).
start() {  # dir name command...
  local dir=$1 name=$2 waited=0; shift 2
  rm -f "$state/$name.pid"
  (cd "$dir" && exec setsid bash -c 'echo $$ >"$0" && exec "$@"' "$state/$name.pid" "$@") </dev/null >"$logs/$name.log" 2>&1 9>&- &
  until [ -s "$state/$name.pid" ] || [ $waited -ge 50 ]; do sleep 0.1; waited=$((waited + 1)); done
}

# Waits until the command succeeds; dies with the tail of NAME's log if NAME exits or time runs out.
wait_for() {  # name timeout-seconds command...
  local name=$1 deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name" || [ $SECONDS -ge $deadline ]; then
      tail -n 30 "$logs/$name.log" >&2
      die "$name did not become healthy (log: $logs/$name.log)"
    fi
    sleep 0.3
  done
}

# An HTTP(S) health endpoint answers 2xx (self-signed certificates accepted: loopback only).
probe() { curl -sfk -o /dev/null --noproxy '*' --max-time 2 "$@"; }
