#!/usr/bin/env bash
# Pick the cluster `make run` works against, bringing one up when none answers,
# and print the environment to run the platform with (`export NAME=value`
# lines, for eval). Messages go to stderr, only the exports to stdout.
#
#   1. The current kubeconfig's cluster (KUBECONFIG, else ~/.kube/config) when
#      its API server answers within a few seconds: used as is.
#   2. Else, where kind, kubectl and a running Docker engine are present: the
#      kind cluster from kind-config.yaml (created, or reused when it exists),
#      with ingress-nginx installed and its controller ready.
#   3. Else the local control plane (localcluster/up.sh, as `make demo`): a
#      real API server and real helm, nodes simulated by kwok. CLUSTER_MODE=
#      simulated puts a banner on every page; CHECK_STORE_URL=false, since no
#      store container ever serves there.
#
# CLUSTER_MODE=simulated on entry skips 1 and 2 (`make demo`).
#
# LOCALCLUSTER_BACKGROUND=1 (scripts/run.sh sets it): in 3, do not wait for the
# local control plane, which may first need minutes of building from the Go
# module proxy; print LOCALCLUSTER_PREPARE=1 and CLUSTER_STATUS_FILE instead,
# and run.sh prepares it beside the platform (scripts/prepare-cluster.sh), which
# shows the preparation on every page and keeps stores queued until it is ready.
#   KIND_CLUSTER_NAME       kind cluster to create or reuse (store-provisioner)
#   INGRESS_NGINX_MANIFEST  ingress-nginx's kind manifest (a pinned release)
#   LOCALCLUSTER_DIR        the local control plane's state (<repo>/.localcluster)
#   VAR_DIR                 where the kind cluster's kubeconfig and the preparation's
#                           status are written (<repo>/var)
#   PYTHON                  the venv's python (<repo>/.venv/bin/python)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-$root/.venv/bin/python}"
kind_name="${KIND_CLUSTER_NAME:-store-provisioner}"
ingress_manifest="${INGRESS_NGINX_MANIFEST:-https://raw.githubusercontent.com/kubernetes/ingress-nginx/controller-v1.12.1/deploy/static/provider/kind/deploy.yaml}"
state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
var_dir="${VAR_DIR:-$root/var}"

say() { printf '[run] %s\n' "$*" >&2; }
emit() { printf 'export %s=%q\n' "$1" "$2"; }

# Kubernetes version of the current kubeconfig's cluster, through the product's
# own cluster layer (the same kubeconfig rules the workers follow). Bounded:
# 3 s a request, 15 s in all, so a dead API server never stalls the start.
current_cluster_version() {
  (cd "$root" && timeout 15 "$python" -c '
import sys
from stores.cluster import connect
try:
    print(connect(request_timeout=3).version())
except Exception as exc:
    sys.exit(str(exc))
')
}

# The Medusa store image's tag, as the chart's default names it.
medusa_tag() {
  awk '/^image:/ { inside = 1; next } /^[^ #]/ { inside = 0 }
    inside && $1 == "tag:" { gsub(/"/, "", $2); print $2; exit }' "$root/charts/medusa/values.yaml"
}

use_kind() {
  local kubeconfig="$var_dir/kind-kubeconfig"
  mkdir -p "$var_dir"
  local clusters
  clusters=$(kind get clusters 2> /dev/null || true)
  if grep -qx "$kind_name" <<< "$clusters"; then
    say "reusing the kind cluster $kind_name"
  else
    say "creating the kind cluster $kind_name from kind-config.yaml (a few minutes the first time)"
    kind create cluster --config "$root/kind-config.yaml" --name "$kind_name" >&2
  fi
  # A file of its own: the current context may name another cluster.
  kind get kubeconfig --name "$kind_name" > "$kubeconfig.tmp"
  mv "$kubeconfig.tmp" "$kubeconfig"
  say "installing ingress-nginx ($ingress_manifest)"
  kubectl --kubeconfig "$kubeconfig" apply -f "$ingress_manifest" >&2
  # `kubectl wait` on pods fails at once when none exists yet: wait for the
  # Deployment to roll out first, then for its pod to be ready.
  kubectl --kubeconfig "$kubeconfig" -n ingress-nginx rollout status deployment/ingress-nginx-controller --timeout=300s >&2
  kubectl --kubeconfig "$kubeconfig" -n ingress-nginx wait --for=condition=ready pod \
    -l app.kubernetes.io/component=controller --timeout=300s >&2
  # Medusa stores run the store image (charts/medusa/image/Dockerfile, as
  # `make medusa-image`): built once when Docker does not have it, and loaded
  # into the kind cluster (a node pulls nothing it was not given).
  local medusa_image; medusa_image="localhost/store-provisioner/medusa:$(medusa_tag)"
  if ! docker image inspect "$medusa_image" > /dev/null 2>&1; then
    say "building the Medusa store image $medusa_image (a few minutes, once)"
    docker build -f "$root/charts/medusa/image/Dockerfile" -t "$medusa_image" "$root" >&2
  fi
  kind load docker-image "$medusa_image" --name "$kind_name" >&2
  say "kind cluster $kind_name is ready; stores at http://store-<name>.127.0.0.1.nip.io"
  emit KUBECONFIG "$kubeconfig"
  emit CLUSTER_MODE kind
}

use_local_control_plane() {
  if [[ "${LOCALCLUSTER_BACKGROUND:-}" == 1 ]]; then
    say "the local control plane is prepared beside the platform (scripts/prepare-cluster.sh)"
    emit LOCALCLUSTER_PREPARE 1
    emit CLUSTER_STATUS_FILE "$var_dir/cluster-status.json"
  else
    # The platform needs no real node (a test one: stores never ask for it), so
    # a first run does not build and start one.
    LOCALCLUSTER_DIR="$state" LOCALCLUSTER_REAL_NODE=0 bash "$root/localcluster/up.sh" >&2
  fi
  cat >&2 << 'BANNER'
[run] ==========================================================================
[run]  SIMULATED CLUSTER: stores are provisioned for real against a local
[run]  Kubernetes API, but their containers do not run (nodes are simulated).
[run]  For stores that serve: install kind and Docker, or point KUBECONFIG at a
[run]  cluster, then `make run` again.
[run] ==========================================================================
BANNER
  emit KUBECONFIG "$state/kubeconfig"
  emit HELM_BIN "$state/bin/helm"
  emit CHECK_STORE_URL false
  emit CLUSTER_MODE simulated
}

if [[ "${CLUSTER_MODE:-}" == simulated ]]; then
  say "CLUSTER_MODE=simulated: using the local control plane"
  use_local_control_plane
  exit 0
fi

if version=$(current_cluster_version 2> /dev/null); then
  say "using the current kubeconfig's cluster (Kubernetes $version)"
  emit CLUSTER_MODE kubeconfig
  exit 0
fi
say "no cluster answers in the current kubeconfig (${KUBECONFIG:-~/.kube/config})"

missing=""
for tool in kind kubectl docker; do
  command -v "$tool" > /dev/null || missing="$missing $tool"
done
if [[ -z "$missing" ]]; then
  if timeout 20 docker info > /dev/null 2>&1; then
    use_kind
    exit 0
  fi
  say "docker info fails (no running Docker engine): not creating a kind cluster"
else
  say "not found on PATH:$missing: not creating a kind cluster"
fi
say "starting the local control plane instead (localcluster/up.sh)"
use_local_control_plane
