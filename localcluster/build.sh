#!/usr/bin/env bash
# Build (once) every binary the local test cluster needs, from source via the Go
# module proxy, into a per-user cache keyed by version:
#   ${STORE_PROVISIONER_CACHE:-~/.cache/store-provisioner}/bin/<component>-<version>
# Binaries already in the cache are not rebuilt. Finally .localcluster/bin/ is
# pointed (symlinks) at the binaries of the pinned versions.
#
#   build.sh              the control plane, kubectl and helm (localcluster/up.sh)
#   build.sh node         the real node's agents (localcluster/node.sh)
#   build.sh kube-score   kube-score (the chart tests)
#   build.sh test-tools   helm and kube-score; prints HELM_BIN and KUBE_SCORE_BIN (make test-unit)
#   build.sh objectstore  SeaweedFS's weed (localcluster/objectstore.sh); prints its path
#   build.sh plan         the steps `build.sh` would take now, one `key=label` a line
#
# With LOCALCLUSTER_STATUS_FILE set, each step of the build is reported there
# (localcluster/status.py), for the dashboard `make run` serves meanwhile.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${STORE_PROVISIONER_CACHE:-$HOME/.cache/store-provisioner}"
bin="$cache/bin"
src="$cache/src"
mkdir -p "$bin" "$src"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod

log() { printf '[build] %s\n' "$*" >&2; }
# progress <status.py command>...: report a step; never fails the build.
progress() {
  [[ -n "${LOCALCLUSTER_STATUS_FILE:-}" ]] || return 0
  "${LOCALCLUSTER_PYTHON:-python3}" "$here/status.py" "$LOCALCLUSTER_STATUS_FILE" "$@" || true
}
have() { for c in "$@"; do [[ -x "$bin/$c" ]] || return 1; done; }
stamp() { date +%s; }

# --- Kubernetes control plane (+ kubectl) ------------------------------------
# k8s.io/kubernetes refers to its k8s.io/* staging modules by relative replace
# directives, which are ignored when it is a dependency. A wrapper module
# requires it and maps each staging module to its published v0.<minor>.<patch>.
# The wrapper module of k8s.io/kubernetes at $KUBE_VERSION, ready to build any
# of its commands (shared by the control plane and the real node's agents).
kube_module() {
  local v="$KUBE_VERSION" staging="v0${KUBE_VERSION#v1}"
  local mod="$src/kubernetes-$v"
  if [[ ! -f "$mod/go.mod" ]]; then
    mkdir -p "$mod"
    log "kubernetes $v: preparing wrapper module in $mod"
    local kmod
    kmod="$(cd "$mod" && go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
    {
      echo "module localcluster/kubernetes"
      echo
      echo "go 1.26.0"
      echo
      echo "require k8s.io/kubernetes $v"
      echo
      echo "replace ("
      # every "k8s.io/x => ./staging/src/k8s.io/x" in the upstream go.mod
      sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging"'#p' "$kmod"
      echo ")"
    } > "$mod/go.mod"
  fi
  echo "$mod"
}

# build_kube_commands <command>...: k8s.io/kubernetes/cmd/<command> into the cache.
build_kube_commands() {
  local v="$KUBE_VERSION" comps=("$@")
  have "${comps[@]/%/-$v}" && return 0
  progress step kube-modules
  local mod; mod="$(kube_module)"
  local pkgs=() c
  for c in "${comps[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  local t0; t0=$(stamp)
  (cd "$mod" && go list -deps "${pkgs[@]}" > /dev/null)
  log "kubernetes $v (${comps[*]}): modules downloaded in $(( $(stamp) - t0 ))s"
  local ldflags="" p minor="${v#v1.}"; minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    # The module zip carries no git metadata: leave gitCommit empty rather than
    # the "$Format:%H$" placeholder.
    ldflags+=" -X $p.gitCommit= -X $p.gitTreeState=clean -X $p.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  progress step kube
  t0=$(stamp)
  local out="$mod/out"; rm -rf "$out"; mkdir -p "$out"
  (cd "$mod" && go build -trimpath -tags selinux,notest -ldflags "-s -w $ldflags" -o "$out/" "${pkgs[@]}")
  for c in "${comps[@]}"; do mv "$out/$c" "$bin/$c-$v"; done
  log "kubernetes $v (${comps[*]}): compiled in $(( $(stamp) - t0 ))s"
}

build_kube() { build_kube_commands kube-apiserver kube-controller-manager kube-scheduler kubectl; }

# --- etcd ----------------------------------------------------------------------
# go.etcd.io/etcd/server/v3 replaces its sibling etcd modules with relative
# paths; in a wrapper module those replaces are ignored, so the wrapper pins the
# sibling modules (api, client/pkg, client/v3, pkg) to the same published tag.
build_etcd() {
  local v="$ETCD_VERSION"
  have "etcd-$v" && return 0
  progress step etcd
  local mod="$src/etcd-$v"
  mkdir -p "$mod"
  log "etcd $v: preparing wrapper module in $mod"
  cat > "$mod/go.mod" <<MOD
module localcluster/etcd

go 1.26.0

require (
	go.etcd.io/etcd/server/v3 $v
	go.etcd.io/etcd/api/v3 $v
	go.etcd.io/etcd/client/pkg/v3 $v
	go.etcd.io/etcd/client/v3 $v
	go.etcd.io/etcd/pkg/v3 $v
)
MOD
  local t0; t0=$(stamp)
  (cd "$mod" && go list -deps go.etcd.io/etcd/server/v3 > /dev/null)
  log "etcd $v: modules downloaded in $(( $(stamp) - t0 ))s"
  t0=$(stamp)
  (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$mod/etcd" go.etcd.io/etcd/server/v3)
  mv "$mod/etcd" "$bin/etcd-$v"
  log "etcd $v: compiled in $(( $(stamp) - t0 ))s"
}

# --- go install-able tools -----------------------------------------------------
# build_tool <name> <package@version> [ldflags]
build_tool() {
  local name="$1" pkg="$2" ldflags="${3:-}" v="${2##*@}"
  have "$name-$v" && return 0
  progress step "$name"
  local gobin="$src/gobin-$name-$v"
  rm -rf "$gobin"; mkdir -p "$gobin"
  local t0; t0=$(stamp)
  log "$name $v: go install $pkg"
  GOBIN="$gobin" GOFLAGS='' go install -trimpath -ldflags "-s -w $ldflags" "$pkg"
  mv "$gobin/$name" "$bin/$name-$v"
  rm -rf "$gobin"
  log "$name $v: built in $(( $(stamp) - t0 ))s"
}

link() {
  local links="${LOCALCLUSTER_DIR:-$root/.localcluster}/bin"
  mkdir -p "$links"
  local c
  for c in "$@"; do ln -sfn "$bin/$c" "$links/${c%-v*}"; done
}

# kube-score is no part of the cluster: the chart tests run it over every
# rendered chart (`make test` builds it through `build.sh kube-score`).
build_kube_score() {
  build_tool kube-score "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" \
    "-X main.version=$KUBE_SCORE_VERSION"
  link "kube-score-$KUBE_SCORE_VERSION"
}

build_helm() {
  build_tool helm "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
}

# The chart tests' tools (`make test-unit`, no cluster): helm and kube-score,
# built when missing. Prints their cached paths as HELM_BIN and KUBE_SCORE_BIN
# (an `export` line, for eval): where the tests look first.
build_test_tools() {
  build_helm
  build_kube_score
  printf 'export HELM_BIN=%q KUBE_SCORE_BIN=%q\n' "$bin/helm-$HELM_VERSION" "$bin/kube-score-$KUBE_SCORE_VERSION"
}

# --- the real node's parts (localcluster/node.sh) -----------------------------
# kube-router's module has no replace directives, but its main package is not
# `go install`-able by version here (the proxy refuses the nested path), so it
# is built from a wrapper module like etcd.
build_kube_router() {
  local v="$KUBE_ROUTER_VERSION"
  have "kube-router-$v" && return 0
  local mod="$src/kube-router-$v"
  mkdir -p "$mod"
  printf 'module localcluster/kube-router\n\ngo 1.26.0\n\nrequire github.com/cloudnativelabs/kube-router/v2 %s\n' "$v" > "$mod/go.mod"
  local t0; t0=$(stamp)
  (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$mod/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router)
  mv "$mod/kube-router" "$bin/kube-router-$v"
  log "kube-router $v: built in $(( $(stamp) - t0 ))s"
}

# The pod sandbox's pause program, from the kubernetes module's own source,
# linked statically so that it is the whole image.
build_pause() {
  local v="$KUBE_VERSION"
  have "pause-$v" && return 0
  local mod; mod="$(kube_module)"
  local dir
  dir="$(cd "$mod" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)"
  gcc -Os -Wall -Werror -static -DVERSION="$v" -o "$bin/pause-$v" "$dir/build/pause/linux/pause.c"
  strip "$bin/pause-$v"
  log "pause $v: compiled"
}

# build_standin <dir> <name>: a stand-in of the real node, one main.go in
# localcluster/<dir> (the ingress and the local-path provisioner: standard
# library only; the DNS: its go.mod and go.sum add golang.org/x/net), cached
# by the hash of the directory's files and linked as .localcluster/bin/<name>.
build_standin() {
  local src_dir="$here/$1" name="$2"
  local sum; sum="$(cat "$src_dir"/* | sha256sum | cut -c1-12)"
  if ! have "$name-$sum"; then
    local t0; t0=$(stamp)
    (cd "$src_dir" && go build -trimpath -ldflags "-s -w" -o "$bin/$name-$sum" main.go)
    log "$name: built in $(( $(stamp) - t0 ))s"
  fi
  ln -sfn "$bin/$name-$sum" "${LOCALCLUSTER_DIR:-$root/.localcluster}/bin/$name"
}

build_node() {
  local t0; t0=$(stamp)
  build_kube_commands kubelet kube-proxy
  build_kube_router
  build_pause
  build_standin ingress ingress-standin
  build_standin dns dns-standin
  build_standin localpath local-path-standin
  link "kubelet-$KUBE_VERSION" "kube-proxy-$KUBE_VERSION" "kube-router-$KUBE_ROUTER_VERSION" "pause-$KUBE_VERSION"
  log "node binaries ready in $(( $(stamp) - t0 ))s (cache: $bin)"
}

# --- the object store (localcluster/objectstore.sh) ---------------------------
# SeaweedFS's go.mod has a replace directive, so `go install pkg@version`
# refuses it: a wrapper module requires it and repeats its (non-relative)
# replaces, which a dependency's go.mod cannot impose. Prints the binary's path.
build_objectstore() {
  local v="$SEAWEEDFS_VERSION"
  if ! have "weed-$v"; then
    # `make test` builds it first, and a test session that starts without it builds it on first
    # use (tests/objectstore.py): one build at a time (two shared the wrapper module's output
    # path and one lost its binary), and the one that waited finds it built.
    exec 7> "$src/seaweedfs.lock"
    flock 7
  fi
  if ! have "weed-$v"; then
    progress step weed
    local mod="$src/seaweedfs-$v"
    mkdir -p "$mod"
    log "seaweedfs $v: preparing wrapper module in $mod"
    local upstream
    upstream="$(cd "$mod" && go mod download -json "github.com/seaweedfs/seaweedfs@$v" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
    {
      printf 'module localcluster/seaweedfs\n\ngo 1.26.0\n\nrequire github.com/seaweedfs/seaweedfs %s\n\n' "$v"
      # single-line "replace a => b vX" of the upstream go.mod (none are relative)
      grep -E '^replace [^ ]+ => [^.][^ ]* v' "$upstream" || true
    } > "$mod/go.mod"
    local t0; t0=$(stamp)
    (cd "$mod" && go list -deps github.com/seaweedfs/seaweedfs/weed > /dev/null)
    log "seaweedfs $v: modules downloaded in $(( $(stamp) - t0 ))s"
    t0=$(stamp)
    (cd "$mod" && go build -trimpath -ldflags "-s -w" -o "$mod/weed" github.com/seaweedfs/seaweedfs/weed)
    mv "$mod/weed" "$bin/weed-$v"
    log "seaweedfs $v: compiled in $(( $(stamp) - t0 ))s"
  fi
  echo "$bin/weed-$v"
}

# What `build.sh` (no argument) is about to build, in the order it builds it,
# as `key=label` lines (up.sh hands them to status.py before it builds).
plan() {
  have "etcd-$ETCD_VERSION" || echo "etcd=Building etcd $ETCD_VERSION"
  have "kwok-$KWOK_VERSION" || echo "kwok=Building kwok $KWOK_VERSION"
  have "kwokctl-$KWOK_VERSION" || echo "kwokctl=Building kwokctl $KWOK_VERSION"
  have "helm-$HELM_VERSION" || echo "helm=Building helm $HELM_VERSION"
  local c
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    if ! have "$c-$KUBE_VERSION"; then
      echo "kube-modules=Downloading the Kubernetes $KUBE_VERSION modules"
      echo "kube=Building kube-apiserver, kube-controller-manager, kube-scheduler and kubectl"
      break
    fi
  done
}

main() {
  if [[ "${1:-}" == kube-score ]]; then build_kube_score; return; fi
  if [[ "${1:-}" == node ]]; then build_node; return; fi
  if [[ "${1:-}" == test-tools ]]; then build_test_tools; return; fi
  if [[ "${1:-}" == objectstore ]]; then build_objectstore; return; fi
  if [[ "${1:-}" == plan ]]; then plan; return; fi
  local t0; t0=$(stamp)
  build_etcd
  build_tool kwok "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  build_tool kwokctl "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION" "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  build_helm
  build_kube
  link "kube-apiserver-$KUBE_VERSION" "kube-controller-manager-$KUBE_VERSION" \
       "kube-scheduler-$KUBE_VERSION" "kubectl-$KUBE_VERSION" "etcd-$ETCD_VERSION" \
       "kwok-$KWOK_VERSION" "kwokctl-$KWOK_VERSION" "helm-$HELM_VERSION"
  log "all binaries ready in $(( $(stamp) - t0 ))s (cache: $bin)"
}

main "$@"
