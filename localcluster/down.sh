#!/usr/bin/env bash
# Stop the local test cluster and its real node, and remove their state
# (.localcluster/kwok, .localcluster/node and the kubeconfig). The binary cache and .localcluster/bin are kept.
#
#   LOCALCLUSTER_DIR    state directory (default <repo>/.localcluster)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
name=store-provisioner
state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
export KWOK_WORKDIR="$state/kwok"
clusterdir="$KWOK_WORKDIR/clusters/$name"

# The real node first: it needs the API server to clean up after itself.
bash "$here/node.sh" down 2> /dev/null || true

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
