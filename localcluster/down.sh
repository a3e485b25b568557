#!/usr/bin/env bash
# Stop the local test cluster and remove its state (.localcluster/kwok and the
# kubeconfig). The binary cache and .localcluster/bin are kept.
#
#   LOCALCLUSTER_DIR    state directory (default <repo>/.localcluster)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
name=store-provisioner
state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
export KWOK_WORKDIR="$state/kwok"
clusterdir="$KWOK_WORKDIR/clusters/$name"

if [[ -d "$clusterdir" ]]; then
  pids=$(awk 1 "$clusterdir"/pids/*.pid 2>/dev/null || true)  # (files lack a final newline)
  # --kubeconfig must name a file: kwokctl removes the cluster's context from it.
  "$state/bin/kwokctl" delete cluster --name "$name" --kubeconfig "$clusterdir/kubeconfig.yaml" \
    > "$state/down.log" 2>&1 || cat "$state/down.log" >&2
  # Never leave a component running once its state is gone.
  for pid in $pids; do
    if grep -qF "$clusterdir/" "/proc/$pid/cmdline" 2>/dev/null; then kill -9 "$pid"; fi
  done
fi
rm -rf "$KWOK_WORKDIR" "$state/kubeconfig" "$state/down.log"
echo "[localcluster] cluster '$name' removed" >&2
