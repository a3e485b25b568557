#!/usr/bin/env bash
# Print the local cluster's running costs, measured now: the resident memory
# of each control-plane process and of the real node's agents and stand-ins,
# the shims per pod, the time `up.sh` takes to find a running cluster, and the
# disk the caches hold. Build times are printed by build.sh as it builds, and
# the cluster's start time by up.sh; the README points here rather than
# keeping figures that go stale.
#
#   LOCALCLUSTER_DIR  state directory (default <repo>/.localcluster)
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
cache="${STORE_PROVISIONER_CACHE:-$HOME/.cache/store-provisioner}"

rss_mb() { awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$1/status" 2> /dev/null; }

# One line per pid file: name, RSS; then the total.
report() {
  local title="$1"; shift
  local total=0 name pid mb
  echo "$title"
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    name="$(basename "$f" .pid)"
    pid="$(cat "$f")"
    mb="$(rss_mb "$pid")"
    if [[ -z "$mb" ]]; then printf '  %-24s not running\n' "$name"; continue; fi
    printf '  %-24s %6s MB\n' "$name" "$mb"
    total=$((total + mb))
  done
  printf '  %-24s %6s MB\n' "total" "$total"
}

shopt -s nullglob
pids=("$state"/kwok/clusters/*/pids/*.pid)
if ((${#pids[@]})); then
  report "Control plane (RSS):" "${pids[@]}"
  start="$(date +%s.%N)"
  LOCALCLUSTER_STATUS_FILE=/dev/null "$here/up.sh" > /dev/null 2>&1 || true
  awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "  up.sh on the running cluster: %.2f s\n", e - s }'
else
  echo "Control plane: not running (make cluster starts it)"
fi

node=("$state"/node/{containerd,kubelet,kube-proxy,kube-router,local-path}.pid)
if ((${#node[@]})) && kill -0 "$(cat "$state/node/supervise.pid" 2> /dev/null || echo 0)" 2> /dev/null; then
  report "Real node agents (RSS):" "${node[@]}"
  shims=0 count=0
  for pid in $(pgrep -f containerd-shim || true); do
    shims=$((shims + $(rss_mb "$pid"))); count=$((count + 1))
  done
  printf '  %-24s %6s MB over %d shims\n' "containerd shims" "$shims" "$count"
  for name in dns-standin ingress-standin; do
    for pid in $(pgrep -f "$name" || true); do printf '  %-24s %6s MB\n' "$name" "$(rss_mb "$pid")"; done
  done
else
  echo "Real node: not running"
fi

echo "Disk:"
for path in "$cache/bin" "$cache/images" "$(go env GOMODCACHE 2> /dev/null || true)" \
  "$(go env GOCACHE 2> /dev/null || true)" "$state/node/containerd"; do
  [[ -n "$path" && -e "$path" ]] || continue
  printf '  %-60s %s\n' "$path" "$(du -sh "$path" 2> /dev/null | cut -f1)"
done
