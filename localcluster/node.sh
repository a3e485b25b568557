#!/usr/bin/env bash
# A real node beside kwok's simulated ones: containerd + runc run the pods,
# kubelet registers the node, kube-proxy programs Services and kube-router
# enforces NetworkPolicies. Everything it changes on the host is undone by
# `node.sh down` (called by localcluster/down.sh):
#   - its network lives in its own network namespace, joined to the host by one
#     veth pair; iptables rules, ipsets, routes and sysctls of kube-proxy,
#     kube-router and the CNI plugins are made inside it and go with it;
#   - its daemons run in a private mount namespace, so the mounts of pods and
#     volumes never reach the host's mount table and go when they stop;
#   - the cgroups kubelet creates (kubepods) are removed after its pods are killed;
#   - its files are under $LOCALCLUSTER_DIR/node.
#
#   node.sh check   exit 0 if this machine can run the node, else print why (exit 3)
#   node.sh up      start it (or reuse it when it is Ready); prints nothing on stdout
#   node.sh down    stop it and remove what it made
#   node.sh owner   print the other state directory whose node runs here, if any
#   node.sh host-state   what the host looks like (iptables, routes, links, mounts,
#                        cgroups, netns, sysctls): for comparing before up / after down
#
#   LOCALCLUSTER_DIR  state directory (default <repo>/.localcluster)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=versions.env
source "$here/versions.env"

state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
bin="$state/bin"
kubeconfig="$state/kubeconfig"
dir="$state/node"
pki="$state/kwok/clusters/store-provisioner/pki"

# The node's addresses. The node is named by its IP: the API server resolves
# node names, and nothing here would resolve another name.
netns=store-provisioner-node
host_if=spnode0
host_ip=10.201.0.1
node_ip=10.201.0.2
pod_cidr=10.244.0.0/24
cluster_cidr=10.244.0.0/16
service_cidr=10.0.0.0/24   # kube-apiserver's default --service-cluster-ip-range
cluster_dns=10.0.0.10
node_label=store-provisioner.io/node=real
# Which state directory's node holds the names above (one node per machine).
owner_file="${STORE_PROVISIONER_NODE_OWNER_FILE:-/run/store-provisioner-node.owner}"
# Held through `up` and `down` (of any cluster on the machine), so that two
# clusters' `up` (two test sessions) never both find the node free.
lock_file="$owner_file.lock"
# Store pods land here only when they ask: the label to select above, and the
# taint store-provisioner.io/node=real:NoSchedule (kubelet.yaml) to tolerate.

# Images the node's pods use, built here from local files (no registry).
pause_image=localhost/store-provisioner/pause:$KUBE_VERSION
busybox_image=localhost/store-provisioner/busybox:1.35
ingress_image=localhost/store-provisioner/ingress-standin:1
dns_image=localhost/store-provisioner/dns-standin:1
# Where the ingress stand-in answers: a fixed Service address the host reaches
# through the node (http_proxy=http://$ingress_ip:80 makes any store's URL work).
ingress_ip=10.0.0.80
ingress_namespace="${INGRESS_CONTROLLER_NAMESPACE:-ingress-nginx}"
# The DNS stand-in answers at the kubelet's clusterDNS address, in the
# namespace the stores' allow-dns policy admits (kube-system, port 53).
dns_namespace=kube-system
# The StorageClass whose claims get writable directories on the node (the
# local-path stand-in, a daemon of the node), and where those live.
local_path_class=local-path
local_path_provisioner=store-provisioner.io/local-path
volumes="$dir/volumes"

log() { printf '[node] %s\n' "$*" >&2; }

# The other state directory whose node runs on this machine now, if any. Only a
# live supervisor owns the node: one whose session ended without `down` leaves
# the owner file and the named netns behind, and those are leftovers that this
# cluster's `down` clears, not a reason to refuse a node.
other_live_owner() {
  local other pid
  other="$(cat "$owner_file" 2> /dev/null || true)"
  [[ -n "$other" && "$other" != "$dir" ]] || return 0
  pid="$(cat "$other/supervise.pid" 2> /dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  if { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2> /dev/null | grep -qF "$other/supervise.sh"; then echo "$other"; fi
}
kctl() { "$bin/kubectl" --kubeconfig "$kubeconfig" "$@"; }
# On fd 8, which the node's daemons must not inherit (start_daemons closes it).
take_lock() {
  [[ -z "${node_lock_held:-}" ]] || return 0
  exec 8> "$lock_file"
  flock -w 300 8 || { echo "real node unavailable: $lock_file held for 5 minutes"; exit 3; }
  node_lock_held=1
}
in_node() { nsenter --net="/run/netns/$netns" "$@"; }

# --- can this machine run it? --------------------------------------------------
PACKAGES=(containerd runc containernetworking-plugins ipset iptables conntrack busybox)

why_not() {
  [[ "$(uname -s)" == Linux ]] || { echo "not Linux"; return; }
  [[ "$(id -u)" == 0 ]] || { echo "not root (containerd, network namespaces and cgroups need root)"; return; }
  [[ -d /sys/fs/cgroup ]] || { echo "no cgroup filesystem"; return; }
  if ! command -v ip > /dev/null || ! command -v nsenter > /dev/null; then echo "iproute2/util-linux missing"; return; fi
  local missing=() p
  for p in "${PACKAGES[@]}"; do dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    command -v apt-get > /dev/null || { echo "Debian packages missing and no apt-get: ${missing[*]}"; return; }
    log "installing ${missing[*]}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
      > "$state/node-apt.log" 2>&1 || { echo "could not install ${missing[*]} (see $state/node-apt.log)"; return; }
  fi
  unshare --net true 2> /dev/null || { echo "cannot create network namespaces"; return; }
}

# --- images --------------------------------------------------------------------
# image_tar <rootfs dir> <name:tag> <out.tar> [entrypoint...]: a `docker save`
# tar of one layer, which `ctr images import` takes.
image_tar() {
  local rootfs="$1" ref="$2" out="$3"; shift 3
  local work; work="$(mktemp -d)"
  tar -C "$rootfs" --numeric-owner --owner=0 --group=0 -cf "$work/layer.tar" .
  local diff; diff="$(sha256sum "$work/layer.tar" | cut -d' ' -f1)"
  mkdir "$work/$diff"; mv "$work/layer.tar" "$work/$diff/layer.tar"
  local entry="null"
  # A JSON list of the arguments (plain paths and words: nothing to escape).
  if (($#)); then entry="$(printf '"%s",' "$@")"; entry="[${entry%,}]"; fi
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entry" "$diff" > "$work/config.json"
  local cfg; cfg="$(sha256sum "$work/config.json" | cut -d' ' -f1)"
  mv "$work/config.json" "$work/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$cfg" "$ref" "$diff" > "$work/manifest.json"
  tar -C "$work" -cf "$out" manifest.json "$cfg.json" "$diff"
  rm -rf "$work"
}

build_images() {
  local images="$dir/images" rootfs
  mkdir -p "$images"
  rootfs="$(mktemp -d)"; chmod 755 "$rootfs"
  install -D -m 0755 "$bin/pause" "$rootfs/pause"
  image_tar "$rootfs" "$pause_image" "$images/pause.tar" /pause
  rm -rf "$rootfs"

  # busybox: sh, httpd, wget, nc... Debian's busybox with the C library it
  # links (a static glibc busybox crashes on address lookups), and its applet links.
  rootfs="$(mktemp -d)"; chmod 755 "$rootfs"
  install -D -m 0755 /bin/busybox "$rootfs/bin/busybox"
  local lib
  for lib in $(ldd /bin/busybox | grep -o '/[^ ]*'); do install -D -m 0755 "$lib" "$rootfs$lib"; done
  local applet
  for applet in $("$rootfs/bin/busybox" --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$rootfs/bin/$applet"
  done
  mkdir -p "$rootfs/tmp" "$rootfs/etc" "$rootfs/www"
  chmod 1777 "$rootfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$rootfs/etc/group"
  image_tar "$rootfs" "$busybox_image" "$images/busybox.tar" /bin/sh
  rm -rf "$rootfs"

  # The stand-ins in pods: one static Go binary each, the whole image.
  local name ref
  for name in ingress-standin dns-standin; do
    ref="$ingress_image"; [[ "$name" == dns-standin ]] && ref="$dns_image"
    rootfs="$(mktemp -d)"; chmod 755 "$rootfs"
    install -D -m 0755 "$bin/$name" "$rootfs/$name"
    image_tar "$rootfs" "$ref" "$images/$name.tar" "/$name"
    rm -rf "$rootfs"
  done
}

# What the running node was made from: a node started by another version of
# this script or of a stand-in is restarted by `up`, not reused.
fingerprint() {
  cat "$here/node.sh" "$here/versions.env" "$here"/ingress/* "$here"/dns/* "$here"/localpath/* | sha256sum | cut -d' ' -f1
}

deployment_ready() {
  [[ "$(kctl -n "$1" get deployment "$2" -o jsonpath='{.status.readyReplicas}' 2> /dev/null)" == 1 ]]
}
addons_ready() {
  deployment_ready "$ingress_namespace" ingress-standin && deployment_ready "$dns_namespace" kube-dns \
    && kctl get storageclass "$local_path_class" > /dev/null 2>&1
}

# The stand-ins' objects, applied together by deploy_addons; <api> is the API
# server's host:port (api_address), which the stand-ins' pods reach directly.

# The ingress stand-in, in the namespace the stores' policies admit traffic from.
ingress_manifests() {
  local api="$1"
  cat <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $ingress_namespace
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: ingress-standin, namespace: $ingress_namespace}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: store-provisioner:ingress-standin
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
rules:
  - apiGroups: [networking.k8s.io]
    resources: [ingresses]
    verbs: [list]
  - apiGroups: [""]
    resources: [services]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: store-provisioner:ingress-standin
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: store-provisioner:ingress-standin}
subjects:
  - {kind: ServiceAccount, name: ingress-standin, namespace: $ingress_namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: ingress-standin, namespace: $ingress_namespace}
spec:
  replicas: 1
  selector: {matchLabels: {app: ingress-standin}}
  template:
    metadata: {labels: {app: ingress-standin}}
    spec:
      serviceAccountName: ingress-standin
      nodeSelector: {store-provisioner.io/node: real}
      tolerations: [{key: store-provisioner.io/node, operator: Exists, effect: NoSchedule}]
      containers:
        - name: ingress
          image: $ingress_image
          imagePullPolicy: Never
          env:
            - {name: KUBERNETES_SERVICE_HOST, value: "${api%:*}"}
            - {name: KUBERNETES_SERVICE_PORT, value: "${api##*:}"}
          ports: [{containerPort: 8080, name: http}]
          readinessProbe:
            httpGet: {path: /, port: http, httpHeaders: [{name: X-Ingress-Healthz, value: "1"}]}
            periodSeconds: 1
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {cpu: 500m, memory: 64Mi}
          securityContext:
            runAsNonRoot: true
            runAsUser: 65534
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata: {name: ingress-standin, namespace: $ingress_namespace}
spec:
  clusterIP: $ingress_ip
  selector: {app: ingress-standin}
  ports: [{name: http, port: 80, targetPort: http}]
EOF
}

# The DNS stand-in (dns/main.go) behind the kubelet's clusterDNS address, as
# kube-dns/CoreDNS is on kind and k3s: Service kube-dns, label k8s-app=kube-dns.
dns_manifests() {
  local api="$1"
  cat <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: dns-standin, namespace: $dns_namespace}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: store-provisioner:dns-standin
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
rules:
  - apiGroups: [""]
    resources: [services]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: store-provisioner:dns-standin
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: store-provisioner:dns-standin}
subjects:
  - {kind: ServiceAccount, name: dns-standin, namespace: $dns_namespace}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: kube-dns
  namespace: $dns_namespace
  labels: {k8s-app: kube-dns, app.kubernetes.io/part-of: store-provisioner-localcluster}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: dns-standin
      # The node's resolv.conf (the host's) for names outside cluster.local,
      # never the cluster DNS itself.
      dnsPolicy: Default
      nodeSelector: {store-provisioner.io/node: real}
      tolerations: [{key: store-provisioner.io/node, operator: Exists, effect: NoSchedule}]
      containers:
        - name: dns
          image: $dns_image
          imagePullPolicy: Never
          env:
            - {name: KUBERNETES_SERVICE_HOST, value: "${api%:*}"}
            - {name: KUBERNETES_SERVICE_PORT, value: "${api##*:}"}
          # Port 53 as a non-root user: containerd's enable_unprivileged_ports.
          ports:
            - {containerPort: 53, protocol: UDP, name: dns}
            - {containerPort: 53, protocol: TCP, name: dns-tcp}
            - {containerPort: 8181, protocol: TCP, name: ready}
          readinessProbe:
            httpGet: {path: /ready, port: ready}
            periodSeconds: 1
          resources:
            requests: {cpu: 10m, memory: 16Mi}
            limits: {cpu: 500m, memory: 64Mi}
          securityContext:
            runAsNonRoot: true
            runAsUser: 65534
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: $dns_namespace
  labels: {k8s-app: kube-dns, app.kubernetes.io/part-of: store-provisioner-localcluster}
spec:
  clusterIP: $cluster_dns
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, port: 53, targetPort: dns, protocol: UDP}
    - {name: dns-tcp, port: 53, targetPort: dns-tcp, protocol: TCP}
EOF
}

# The StorageClass the local-path stand-in serves (localpath/main.go, started
# with the node's daemons). Not the default: kwok-volume stays that for the
# simulated nodes; real-node stores ask for local-path by name.
storage_manifests() {
  cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $local_path_class
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
provisioner: $local_path_provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
EOF
}

deploy_addons() {
  local api; api="$(api_address)"
  { ingress_manifests "$api"; echo ---; dns_manifests "$api"; echo ---; storage_manifests; } | kctl apply -f - > /dev/null
}

await_addons() {
  kctl -n "$ingress_namespace" rollout status deployment/ingress-standin --timeout=60s > /dev/null
  kctl -n "$dns_namespace" rollout status deployment/kube-dns --timeout=60s > /dev/null
}

# host:port where the API server advertises itself; its certificate names that
# address (not the "kubernetes" Service's IP, which the local control plane's
# certificate leaves out).
api_address() {
  kctl get endpointslice -n default kubernetes -o jsonpath='{.endpoints[0].addresses[0]}:{.ports[0].port}'
}

# --- credentials -----------------------------------------------------------------
# client_cert <name> <CN> [O]: $dir/pki/<name>.{key,crt}, a client certificate
# signed by the cluster's CA (kubelet as system:node:<ip> in system:nodes, so
# that the Node authorizer and NodeRestriction treat it as the node it is).
client_cert() {
  local name="$1" cn="$2" org="${3:-}" subj="/CN=$2"
  [[ -n "$org" ]] && subj="/O=$org/CN=$cn"
  mkdir -p "$dir/pki"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$dir/pki/$name.key" -subj "$subj" -out "$dir/pki/$name.csr" 2> /dev/null
  openssl x509 -req -in "$dir/pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -out "$dir/pki/$name.crt" 2> /dev/null
}

# client_kubeconfig <name> <CN> [O]: $dir/<name>.kubeconfig with such a certificate.
client_kubeconfig() {
  local name="$1" key="$dir/pki/$1.key" crt="$dir/pki/$1.crt"
  client_cert "$@"
  # The API server's own advertised address (its certificate names it), which
  # the node reaches through the veth pair.
  local server; server="$(api_address)"
  "$bin/kubectl" config --kubeconfig "$dir/$name.kubeconfig" set-cluster local \
    --server "https://$server" --certificate-authority "$pki/ca.crt" --embed-certs > /dev/null
  "$bin/kubectl" config --kubeconfig "$dir/$name.kubeconfig" set-credentials "$name" \
    --client-certificate "$crt" --client-key "$key" --embed-certs > /dev/null
  "$bin/kubectl" config --kubeconfig "$dir/$name.kubeconfig" set-context local --cluster local --user "$name" > /dev/null
  "$bin/kubectl" config --kubeconfig "$dir/$name.kubeconfig" use-context local > /dev/null
}

# --- configuration files -----------------------------------------------------------
write_configs() {
  mkdir -p "$dir/cni/net.d" "$dir/cni/state" "$dir/logs" "$dir/pods-logs"
  cat > "$dir/containerd.toml" <<EOF
version = 2
root = "$dir/containerd/root"
state = "$dir/containerd/state"
[grpc]
  address = "$dir/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_image"
  # Root here lacks CAP_SYS_RESOURCE: without this runc fails to start any
  # container ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  # Non-root containers may listen below 1024 (a sysctl of each pod's own
  # network namespace), as on current container runtimes.
  enable_unprivileged_ports = true
  # Pod network namespaces under the node's own state directory, not the
  # host's /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$dir/cni/net.d"
EOF
  # ptp, not bridge: pod-to-pod traffic is routed through the node's network
  # namespace, so the firewall (kube-router) sees it without br_netfilter.
  cat > "$dir/cni/net.d/10-store-provisioner.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "store-provisioner",
  "plugins": [
    {"type": "ptp", "ipMasq": true, "mtu": 1500,
     "ipam": {"type": "host-local", "dataDir": "$dir/cni/state",
              "ranges": [[{"subnet": "$pod_cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
  cat > "$dir/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1, which kubelet 1.36 refuses unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$dir/containerd.sock
podLogsDir: $dir/pods-logs
authentication:
  # Only the host reaches the node (through the veth pair); the API server
  # presents no client certificate for logs and exec here.
  anonymous: {enabled: true}
  webhook: {enabled: false}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: AlwaysAllow}
clusterDNS: [$cluster_dns]
clusterDomain: cluster.local
failSwapOn: false
registerNode: true
registerWithTaints:
  - {key: store-provisioner.io/node, value: real, effect: NoSchedule}
# Images are imported, never pulled, and never collected.
serializeImagePulls: false
imageGCHighThresholdPercent: 100
# The host's disk is shared with everything else: evict only when nearly full.
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
maxPods: 40
podPidsLimit: 1024
EOF
  cat > "$dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection: {kubeconfig: $dir/kube-proxy.kubeconfig}
hostnameOverride: $node_ip
clusterCIDR: $cluster_cidr
# Leave the conntrack sysctls alone: some of them are the host's, not the node's.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
metricsBindAddress: "$node_ip:10249"
healthzBindAddress: "$node_ip:10256"
EOF
}

# kube-router reads what policies select; it runs as its own user. So does
# the local-path stand-in, which makes and deletes PVs.
apply_rbac() {
  kctl apply -f - > /dev/null <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: store-provisioner:local-path
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
rules:
  - apiGroups: [""]
    resources: [persistentvolumeclaims]
    verbs: [list, watch]
  - apiGroups: [""]
    resources: [persistentvolumes]
    verbs: [list, watch, create, delete]
  - apiGroups: [""]
    resources: [nodes]
    verbs: [get]
  - apiGroups: [storage.k8s.io]
    resources: [storageclasses]
    verbs: [get]
  - apiGroups: [""]
    resources: [events]
    verbs: [create]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: store-provisioner:local-path
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: store-provisioner:local-path}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:store-provisioner:local-path"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: store-provisioner:kube-router
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
rules:
  - apiGroups: [""]
    resources: [namespaces, pods, services, nodes, endpoints]
    verbs: [list, get, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [list, get, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, get, watch]
  - apiGroups: [""]
    resources: [events]
    verbs: [create, patch, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: store-provisioner:kube-router
  labels: {app.kubernetes.io/part-of: store-provisioner-localcluster}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: store-provisioner:kube-router}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:kube-router"}
EOF
}

# --- network --------------------------------------------------------------------------
make_network() {
  # `ip netns add` makes /run/netns a mount point the first time; remember
  # whether that was this script, to undo it on the way down.
  mountpoint -q /run/netns || touch "$state/node-made-run-netns"
  ip netns add "$netns"
  echo "$dir" > "$owner_file"
  ip link add "$host_if" type veth peer name eth0 netns "$netns"
  ip addr add "$host_ip/30" dev "$host_if"
  ip link set "$host_if" up
  in_node ip link set lo up
  in_node ip addr add "$node_ip/30" dev eth0
  in_node ip link set eth0 up
  in_node ip route add default via "$host_ip"
  # Routing pods' traffic is the node's job, inside its own namespace.
  in_node sysctl -qw net.ipv4.ip_forward=1
  # The host reaches Services through the node (a route on the veth: it goes
  # when the veth does).
  ip route add "$service_cidr" via "$node_ip" dev "$host_if"
}

# --- the daemons --------------------------------------------------------------------------
# One supervisor in the node's network namespace and a private mount namespace
# (mounts propagate into it, never out of it) starts the daemons and waits.
start_daemons() {
  local api; api="$(api_address)"
  cat > "$dir/supervise.sh" <<EOF
#!/usr/bin/env bash
# Written by localcluster/node.sh: the real node's daemons, in its namespaces.
set -u
export PATH="$bin:/usr/sbin:/usr/bin:/sbin:/bin"
containerd --config "$dir/containerd.toml" > "$dir/logs/containerd.log" 2>&1 &
echo \$! > "$dir/containerd.pid"
for _ in \$(seq 100); do [[ -S "$dir/containerd.sock" ]] && break; sleep 0.1; done
for image in "$dir"/images/*.tar; do
  ctr --address "$dir/containerd.sock" -n k8s.io images import "\$image" > /dev/null
done
kubelet --config "$dir/kubelet.yaml" --kubeconfig "$dir/kubelet.kubeconfig" --root-dir "$dir/kubelet" \\
  --hostname-override "$node_ip" --node-ip "$node_ip" --node-labels "$node_label" \\
  --cert-dir "$dir/kubelet-pki" > "$dir/logs/kubelet.log" 2>&1 &
echo \$! > "$dir/kubelet.pid"
kube-proxy --config "$dir/kube-proxy.yaml" > "$dir/logs/kube-proxy.log" 2>&1 &
echo \$! > "$dir/kube-proxy.pid"
# Here, in the node's mount namespace, the local-path stand-in's directories
# are the very paths the kubelet mounts (see localpath/main.go).
local-path-standin -server "https://$api" -ca "$pki/ca.crt" \\
  -cert "$dir/pki/local-path.crt" -key "$dir/pki/local-path.key" \\
  -node "$node_ip" -base "$volumes" -class "$local_path_class" -provisioner "$local_path_provisioner" \\
  > "$dir/logs/local-path.log" 2>&1 &
echo \$! > "$dir/local-path.pid"
# kube-router looks its node up when it starts: not before kubelet registered it.
until kubectl --kubeconfig "$dir/kube-router.kubeconfig" get node "$node_ip" > /dev/null 2>&1; do sleep 0.2; done
kube-router --kubeconfig "$dir/kube-router.kubeconfig" --hostname-override "$node_ip" \\
  --run-firewall=true --run-router=false --run-service-proxy=false --enable-cni=false \\
  --metrics-port 0 --health-port 20244 > "$dir/logs/kube-router.log" 2>&1 &
echo \$! > "$dir/kube-router.pid"
wait
EOF
  chmod +x "$dir/supervise.sh"
  # setsid: the node outlives the shell that started it, like the control plane.
  setsid nsenter --net="/run/netns/$netns" unshare --mount --propagation slave \
    "$dir/supervise.sh" > "$dir/logs/supervise.log" 2>&1 < /dev/null 8>&- &
  echo $! > "$dir/supervise.pid"
}

node_ready() {
  [[ "$(kctl get node "$node_ip" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2> /dev/null)" == True ]]
}

up() {
  local reason; reason="$(why_not)"
  if [[ -n "$reason" ]]; then echo "real node unavailable: $reason"; exit 3; fi
  # One real node per machine: its addresses and namespace names are fixed.
  take_lock
  local other; other="$(other_live_owner)"
  if [[ -n "$other" ]]; then
    echo "real node unavailable: another local cluster's real node runs on this machine ($other)"
    exit 3
  fi
  if [[ -f "$dir/supervise.pid" ]] && kill -0 "$(cat "$dir/supervise.pid")" 2> /dev/null && node_ready; then
    if [[ "$(cat "$dir/fingerprint" 2> /dev/null)" == "$(fingerprint)" ]]; then
      addons_ready || { deploy_addons; await_addons; }
      log "node $node_ip already running"
      return 0
    fi
    log "node.sh or a stand-in changed since the node started: restarting it"
  fi
  down 2> /dev/null || true
  local start; start=$(date +%s.%N)
  bash "$here/build.sh" node
  mkdir -p "$dir"
  build_images
  client_kubeconfig kubelet "system:node:$node_ip" system:nodes
  client_kubeconfig kube-proxy system:kube-proxy
  client_kubeconfig kube-router system:kube-router
  client_cert local-path system:store-provisioner:local-path  # flags, not a kubeconfig (localpath/main.go)
  fingerprint > "$dir/fingerprint"
  write_configs
  apply_rbac
  # Applied now, their pods start as soon as the node registers.
  deploy_addons
  make_network
  start_daemons
  local deadline=$((SECONDS + 90))
  until node_ready || ((SECONDS > deadline)); do sleep 0.3; done
  if ! node_ready; then
    log "node did not become Ready; last lines of kubelet.log:"
    tail -20 "$dir/logs/kubelet.log" >&2
    exit 1
  fi
  # Policies are enforced once kube-router's firewall has synced.
  deadline=$((SECONDS + 60))
  until in_node curl -fsS -m 2 http://127.0.0.1:20244/healthz > /dev/null 2>&1 || ((SECONDS > deadline)); do sleep 0.3; done
  if ! in_node curl -fsS -m 2 http://127.0.0.1:20244/healthz > /dev/null 2>&1; then
    log "kube-router did not become healthy; last lines of kube-router.log:"
    tail -20 "$dir/logs/kube-router.log" >&2
    exit 1
  fi
  await_addons
  log "node $node_ip Ready in $(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }')"
}

# --- down ------------------------------------------------------------------------------------
pids_in_cgroups() {
  find /sys/fs/cgroup/*/kubepods* -name cgroup.procs -exec cat {} + 2> /dev/null | sort -u
}

down() {
  take_lock
  if [[ -n "$(other_live_owner)" ]]; then
    rm -rf "$dir"
    return 0  # the node on this machine is another cluster's: leave it alone
  fi
  # Whether the node made /run/netns a mount point: this one, or one an ended
  # session left behind.
  local made_run_netns=() stale; stale="$(cat "$owner_file" 2> /dev/null || true)"
  [[ -f "$state/node-made-run-netns" ]] && made_run_netns+=("$state/node-made-run-netns")
  if [[ -n "$stale" && "$stale" != "$dir" && -f "$(dirname "$stale")/node-made-run-netns" ]]; then
    made_run_netns+=("$(dirname "$stale")/node-made-run-netns")
  fi
  # Pods first (their processes are in kubelet's cgroups), then the daemons
  # and the containerd shims (in the supervisor's mount namespace).
  local pid mntns=""
  if [[ -f "$dir/supervise.pid" ]]; then
    pid="$(cat "$dir/supervise.pid")"
    mntns="$(readlink "/proc/$pid/ns/mnt" 2> /dev/null || true)"
  fi
  # The stand-ins go while the node still runs their pods.
  if node_ready; then
    kctl delete namespace "$ingress_namespace" --ignore-not-found --timeout=30s > /dev/null 2>&1 || true
    kctl -n "$dns_namespace" delete deployment,service kube-dns --ignore-not-found --timeout=30s > /dev/null 2>&1 || true
  fi
  for _ in 1 2 3; do
    for pid in $(pids_in_cgroups); do kill -9 "$pid" 2> /dev/null || true; done
    if [[ -n "$mntns" ]]; then
      for pid in /proc/[0-9]*; do
        pid="${pid#/proc/}"
        if [[ "$(readlink "/proc/$pid/ns/mnt" 2> /dev/null)" == "$mntns" ]]; then kill -9 "$pid" 2> /dev/null || true; fi
      done
    fi
    sleep 0.3
  done
  # kubelet's cgroups, deepest first.
  find /sys/fs/cgroup/*/kubepods* -depth -type d -exec rmdir {} + 2> /dev/null || true
  if ip netns list 2> /dev/null | grep -qw "$netns"; then ip netns del "$netns"; fi
  rm -f "$owner_file"
  ip link del "$host_if" 2> /dev/null || true
  if ((${#made_run_netns[@]})); then
    if mountpoint -q /run/netns && [[ -z "$(ls -A /run/netns)" ]]; then umount /run/netns; fi
    rm -f "${made_run_netns[@]}"
  fi
  # The volumes' directories go with $dir below; their PVs and class go too
  # (a PV still bound stays Terminating until its claim is deleted).
  local pvs
  pvs="$(kctl get pv -o jsonpath="{range .items[?(@.spec.storageClassName==\"$local_path_class\")]}{.metadata.name}{' '}{end}" 2> /dev/null || true)"
  # shellcheck disable=SC2086 # a list of names
  [[ -z "$pvs" ]] || kctl delete pv $pvs --wait=false > /dev/null 2>&1 || true
  kctl delete storageclass "$local_path_class" --ignore-not-found > /dev/null 2>&1 || true
  if kctl get node "$node_ip" > /dev/null 2>&1; then
    # Pods bound to a node that is gone would wait for its kubelet forever.
    kctl delete pods --all-namespaces --field-selector "spec.nodeName=$node_ip" --force --grace-period=0 \
      > /dev/null 2>&1 || true
    kctl delete node "$node_ip" --wait=false > /dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  log "node removed"
}

host_state() {
  set +e +o pipefail
  echo "## iptables"; iptables-save 2> /dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//'
  echo "## ipsets"; ipset list -n 2> /dev/null || true
  echo "## links"; ip -o link | awk '{print $2}'
  echo "## routes"; ip route
  echo "## netns"; ip netns list
  echo "## mounts"; awk '{print $2, $3}' /proc/self/mounts | sort
  echo "## cgroups"; find /sys/fs/cgroup -maxdepth 2 -type d | sort
  echo "## sysctls"; sysctl -a 2> /dev/null | grep -E '^net\.(ipv4\.(ip_forward|conf\.all)|bridge|netfilter\.nf_conntrack_(max|tcp_timeout_established))' | sort
}

case "${1:-}" in
  check) reason="$(why_not)"; if [[ -n "$reason" ]]; then echo "$reason"; exit 3; fi ;;
  up) up ;;
  down) down ;;
  owner) other_live_owner ;;
  host-state) host_state ;;
  *) echo "usage: $0 check|up|down|owner|host-state" >&2; exit 2 ;;
esac
