#!/usr/bin/env bash
# Bring up the local test cluster (kube-apiserver, kube-controller-manager,
# kube-scheduler, etcd as local processes; kwok simulating the nodes; one real
# node from localcluster/node.sh where the machine can run it), or reuse
# it when it is already running and healthy. Writes .localcluster/kubeconfig.
#
#   LOCALCLUSTER_NODES  number of fake nodes (default 2)
#   LOCALCLUSTER_REAL_NODE  0: no real node (default 1: one where the machine can run it)
#   LOCALCLUSTER_DIR    state directory (default <repo>/.localcluster)
#   LOCALCLUSTER_STATUS_FILE  where to report each step of a build and start
#                       (localcluster/status.py; `make run` shows it on the dashboard)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=versions.env
source "$here/versions.env"

name=store-provisioner
state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
bin="$state/bin"
kubeconfig="$state/kubeconfig"
nodes="${LOCALCLUSTER_NODES:-2}"
clusterdir="$state/kwok/clusters/$name"
export KWOK_WORKDIR="$state/kwok"
# kwokctl shells out to kubectl: make it use ours, never download one.
export PATH="$bin:$PATH" KWOK_KUBECTL_BINARY="$bin/kubectl"
start=$(date +%s.%N)

log() { printf '[localcluster] %s\n' "$*" >&2; }
progress() {
  [[ -n "${LOCALCLUSTER_STATUS_FILE:-}" ]] || return 0
  "${LOCALCLUSTER_PYTHON:-python3}" "$here/status.py" "$LOCALCLUSTER_STATUS_FILE" "$@" || true
}
kctl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }
# A change of a pinned version re-creates the cluster; a change of the stages
# or the StorageClass is applied to the running cluster.
# (kube-score and kube-router are no part of the control plane: their pins are
# left out.) The kwok arguments count too: a cluster made without them would
# simulate the real node's pods as well.
kwok_args=(--extra-args kwok-controller=manage-all-nodes=false
           --extra-args kwok-controller=manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake)
versions_sum() {
  { grep -v -e '^KUBE_SCORE_VERSION=' -e '^KUBE_ROUTER_VERSION=' "$here/versions.env"; echo "${kwok_args[*]}"; } \
    | sha256sum | cut -d' ' -f1
}
manifests_sum() { cat "$here/stages.yaml" "$here/storageclass.yaml" | sha256sum | cut -d' ' -f1; }
same() { [[ -f "$1" && "$(cat "$1")" == "$2" ]]; }

# Number of this cluster's components that are alive; forgets the pid files
# of the dead ones (so that `kwokctl start` starts them again).
alive_components() {
  local f pid n=0
  for f in "$clusterdir"/pids/*.pid; do
    [[ -f "$f" ]] || continue
    pid=$(cat "$f")
    if grep -qF "$clusterdir/" "/proc/$pid/cmdline" 2> /dev/null; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo "$n"
}

healthy() {
  [[ -x "$bin/kubectl" && -f "$kubeconfig" ]] || return 1
  same "$clusterdir/versions.sha256" "$(versions_sum)" || return 1
  kctl --request-timeout=5s get --raw /readyz > /dev/null 2>&1 || return 1
  local ready
  ready=$(kctl get nodes --no-headers 2> /dev/null | awk '$2 == "Ready" { n++ } END { print n + 0 }')
  (( ready >= nodes ))
}

# Self-contained kubeconfig (certificates embedded), replaced atomically.
write_kubeconfig() {
  "$bin/kubectl" --kubeconfig "$clusterdir/kubeconfig.yaml" config view --raw --flatten > "$kubeconfig.tmp"
  mv "$kubeconfig.tmp" "$kubeconfig"
}

apply_manifests() {
  kctl apply -f "$here/stages.yaml" --prune -l app.kubernetes.io/part-of=store-provisioner-localcluster \
    --prune-allowlist=kwok.x-k8s.io/v1alpha1/Stage > /dev/null
  kctl apply -f "$here/storageclass.yaml" > /dev/null
  manifests_sum > "$clusterdir/manifests.sha256"
}

# Pods that request ephemeral-storage (every store container does) schedule only
# on nodes that advertise it; kwokctl's node template does not. Patch the fake
# nodes that lack it (also those of a cluster started by an older up.sh).
node_storage() {
  local node
  for node in $(kctl get nodes -o jsonpath='{range .items[*]}{.metadata.annotations.kwok\.x-k8s\.io/node}={.metadata.name}={.status.allocatable.ephemeral-storage}{"\n"}{end}' \
                | awk -F= '$1 == "fake" && $3 == "" { print $2 }'); do
    kctl patch node "$node" --subresource=status --type=merge \
      -p '{"status":{"capacity":{"ephemeral-storage":"1Ti"},"allocatable":{"ephemeral-storage":"1Ti"}}}' > /dev/null
  done
}

# The real node beside the fake ones (localcluster/node.sh), where this machine
# can run one. Without it the API-only tests still run; the real-node tests
# report why they cannot (and fail in CI).
real_node() {
  [[ "${LOCALCLUSTER_REAL_NODE:-1}" == 1 ]] || return 0
  local out rc=0
  out="$(bash "$here/node.sh" up 9>&-)" || rc=$?
  case "$rc" in
    0) ;;
    3) log "no real node: ${out#real node unavailable: }" ;;
    *) log "the real node did not start (exit $rc); see $state/node/logs/" ;;
  esac
}

# One up.sh at a time (parallel test sessions). The lock is on fd 9, which
# must not leak into the daemons kwokctl starts (they would hold it forever):
# every kwokctl call closes it with 9>&-.
mkdir -p "$state"
exec 9> "$state/.up.lock"
flock 9

if healthy; then
  if ! same "$clusterdir/manifests.sha256" "$(manifests_sum)"; then
    apply_manifests
    log "applied changed stages.yaml / storageclass.yaml"
  fi
  node_storage
  real_node
  log "cluster '$name' already running ($(elapsed)); KUBECONFIG=$kubeconfig"
  exit 0
fi

# The steps to come: what build.sh has to build, then the start.
if [[ -n "${LOCALCLUSTER_STATUS_FILE:-}" ]]; then
  mapfile -t steps < <(bash "$here/build.sh" plan 9>&-)
  progress plan "${steps[@]}" "start=Starting the control plane"
fi
bash "$here/build.sh" 9>&-
progress step start
kwokctl="$bin/kwokctl"

if [[ -d "$clusterdir" ]] && same "$clusterdir/versions.sha256" "$(versions_sum)"; then
  # Existing cluster of the right versions, not healthy right now: busy, or
  # some components stopped (e.g. after a reboot). Keep its data.
  write_kubeconfig
  if (( $(alive_components) < 5 )); then
    log "starting stopped components of cluster '$name'"
    "$kwokctl" start cluster --name "$name" --wait 1m > "$KWOK_WORKDIR/start.log" 2>&1 9>&- || true
  fi
  for _ in $(seq 60); do kctl --request-timeout=5s get --raw /readyz > /dev/null 2>&1 && break; sleep 1; done
fi
if [[ -d "$clusterdir" ]] && { ! same "$clusterdir/versions.sha256" "$(versions_sum)" \
     || ! kctl --request-timeout=5s get --raw /readyz > /dev/null 2>&1; }; then
  log "removing stale cluster state"
  bash "$here/down.sh" 2> /dev/null 9>&-
fi

if [[ ! -d "$clusterdir" ]]; then
  mkdir -p "$KWOK_WORKDIR"
  log "creating cluster '$name' (Kubernetes $KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION)"
  # --config /dev/null: ignore any personal ~/.kwok/kwok.yaml.
  # --enable-crds Stage: stages are Stage objects, applied below.
  # kwok_args: kwok simulates only the nodes it made (annotated "fake"), never
  # the real node of localcluster/node.sh.
  "$kwokctl" create cluster \
    --name "$name" \
    --runtime binary \
    --config /dev/null \
    --kubeconfig "" \
    --enable-crds Stage \
    "${kwok_args[@]}" \
    --kube-apiserver-binary "$bin/kube-apiserver" \
    --kube-controller-manager-binary "$bin/kube-controller-manager" \
    --kube-scheduler-binary "$bin/kube-scheduler" \
    --kwok-controller-binary "$bin/kwok" \
    --etcd-binary "$bin/etcd" \
    --wait 2m > "$KWOK_WORKDIR/create.log" 2>&1 9>&- || { tail -20 "$KWOK_WORKDIR/create.log" >&2; exit 1; }
  versions_sum > "$clusterdir/versions.sha256"
  write_kubeconfig
fi

apply_manifests
"$kwokctl" scale node --name "$name" --replicas "$nodes" > /dev/null 2>&1 9>&-
kctl wait --for=condition=Ready node --all --timeout=60s > /dev/null
node_storage
# Pods are admitted only once a namespace's "default" ServiceAccount exists.
until kctl get serviceaccount default -n default > /dev/null 2>&1; do sleep 0.2; done
real_node

log "cluster '$name' ready in $(elapsed); KUBECONFIG=$kubeconfig"
