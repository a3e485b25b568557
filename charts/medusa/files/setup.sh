#!/bin/sh
# Installs, migrates, seeds and builds the Medusa project in $APP_DIR.
#
# Run by the chart's setup Job and, identically, by the recipe test on a
# developer's machine. Idempotent: a second run installs and builds nothing
# (stamps keyed on the project's hash), and migrations, the admin user and the
# seed look before they write. On failure the last line says why, as
#   setup failed: <step>: <reason>
# (install failed, migration failed, admin user failed, seed failed, build
# failed, out of memory (exit 137), out of memory (JavaScript heap)).
#
#   setup.sh               every step, against the store's database
#   setup.sh --build-only  copy, install and build only (no database): for
#                          baking a prebuilt image; the stamps it leaves make
#                          the store's own run skip those steps
set -eu

BUILD_ONLY=false
case "${1:-}" in
--build-only) BUILD_ONLY=true ;;
"") ;;
*) echo "usage: setup.sh [--build-only]" >&2; exit 2 ;;
esac

HERE=$(cd "$(dirname "$0")" && pwd)
PROJECT=${PROJECT_DIR:-$HERE/project}
APP_DIR=${APP_DIR:-/data/app}
NPM_CACHE_DIR=${NPM_CACHE_DIR:-/data/npm-cache}
# state/ is the store's own (the key, setup-done; a volume of its own when the
# app comes prebuilt in an image); .stamps/ describes what the app dir holds.
STATE=$APP_DIR/state
STAMPS=$APP_DIR/.stamps
LOG=$STATE/step.log
export MEDUSA_DISABLE_TELEMETRY=true
# npm's own update check and funding notes are noise in a Job's log.
export npm_config_cache="$NPM_CACHE_DIR" npm_config_update_notifier=false npm_config_fund=false \
    npm_config_audit=false

started=$(date +%s)
# Each line says how far into the run it is: the Job's log doubles as a timing.
say() { echo "setup: [$(($(date +%s) - started)) s] $*"; }

fail() {
    msg="setup failed: $1: $2"
    # Kubernetes shows this file as the container's termination message.
    if [ -w /dev/termination-log ]; then echo "$msg" >/dev/termination-log || true; fi
    echo "$msg" >&2
    exit 1
}

# run STEP REASON COMMAND...: runs COMMAND with its output shown and kept in
# $LOG; on failure ends the script with STEP and REASON (or the memory kill
# that caused it).
run() {
    step=$1 reason=$2
    shift 2
    rc=0
    { "$@" || echo "$?" >"$STATE/step.rc"; } 2>&1 | tee "$LOG"
    if [ -s "$STATE/step.rc" ]; then rc=$(cat "$STATE/step.rc"); rm -f "$STATE/step.rc"; fi
    [ "$rc" = 0 ] && return 0
    if [ "$rc" = 137 ]; then
        fail "$step" "out of memory (exit 137)"
    elif grep -q "JavaScript heap out of memory" "$LOG"; then
        fail "$step" "out of memory (JavaScript heap)"
    fi
    fail "$step" "$reason"
}

tree_hash() {
    # Content hash of a directory's files (names and bytes), for the stamps.
    # -L: the project may come as links (a ConfigMap volume).
    (cd "$1" && find -L . -type f ! -path './node_modules/*' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-64)
}

stamp_is() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp() { echo "$2" >"$STAMPS/$1.tmp" && mv "$STAMPS/$1.tmp" "$STAMPS/$1"; }

mkdir -p "$APP_DIR" "$STATE" "$STAMPS"
rm -f "$STATE/step.rc"

# 1. The project: copied when it differs from the copy in $APP_DIR.
project=$(tree_hash "$PROJECT")
if stamp_is project.sha "$project" && [ -f "$APP_DIR/package-lock.json" ]; then
    say "project unchanged"
else
    say "copying the project"
    # A changed project is not ready until every step below has run again.
    rm -f "$STATE/setup-done"
    rm -rf "$APP_DIR/src"
    cp -RL "$PROJECT/." "$APP_DIR/"
    stamp project.sha "$project"
fi
cd "$APP_DIR"
lock=$(sha256sum package-lock.json | cut -c1-64)

# 2. Dependencies, from the npm cache when it holds them.
if stamp_is npm.sha "$lock" && [ -x node_modules/.bin/medusa ]; then
    say "dependencies installed"
else
    say "installing dependencies (npm ci)"
    # Only an install needs npm's cache (a store image has its dependencies).
    mkdir -p "$NPM_CACHE_DIR"
    rm -f "$STAMPS/npm.sha"
    run install "install failed" npm ci --no-audit --no-fund --prefer-offline
    stamp npm.sha "$lock"
fi
MEDUSA=$APP_DIR/node_modules/.bin/medusa

# 3. The build (server and admin; the admin calls its own origin, so the
# store's URL is not baked in and the project's hash is the whole stamp).
build=$project
if stamp_is build.sha "$build" && [ -f .medusa/server/medusa-config.js ] && [ -d .medusa/server/public/admin ]; then
    say "build up to date"
else
    say "building (medusa build)"
    rm -f "$STAMPS/build.sha"
    # medusa-config.ts requires the store's settings and secrets; the build
    # reads the file but connects to nothing and signs nothing, so where they
    # are not set (an image build) it gets placeholders.
    run build "build failed" env STORE_URL="${STORE_URL:-http://build.invalid}" \
        REDIS_URL="${REDIS_URL:-redis://build.invalid}" DATABASE_URL="${DATABASE_URL:-postgres://build.invalid/medusa}" \
        JWT_SECRET="${JWT_SECRET:-build-only}" COOKIE_SECRET="${COOKIE_SECRET:-build-only}" "$MEDUSA" build
    stamp build.sha "$build"
fi

# 4. The server bundle runs from .medusa/server: it resolves its modules from
# the project's node_modules (a link, not a second install) and reads .env.
# Written only when missing or different: in a prebuilt image they are there
# already and the image's files may not be writable.
if [ "$(readlink .medusa/server/node_modules || true)" != ../../node_modules ]; then
    ln -sfn ../../node_modules .medusa/server/node_modules
fi
# Uploads are served at /static from the bundle's static/; they live in
# $UPLOAD_DIR (the store's volume), which a build never touches.
if [ -n "${UPLOAD_DIR:-}" ] && [ "$(readlink .medusa/server/static || true)" != "$UPLOAD_DIR" ]; then
    mkdir -p "$UPLOAD_DIR"
    rm -rf .medusa/server/static
    ln -sfn "$UPLOAD_DIR" .medusa/server/static
fi
env_file="# The server's settings come from its environment; see medusa-config.js.
NODE_ENV=production
MEDUSA_DISABLE_TELEMETRY=true"
if [ ! -f .medusa/server/.env ] || [ "$(cat .medusa/server/.env)" != "$env_file" ]; then
    echo "$env_file" >.medusa/server/.env
fi

if [ "$BUILD_ONLY" = false ]; then
# The database steps run from the build, as Medusa's production deployments
# do: its compiled JavaScript needs no TypeScript compiler at run time (whose
# native part cannot be loaded on a read-only root with a shared /tmp).
cd "$APP_DIR/.medusa/server"

# 5. Migrations (a no-op when the database is up to date).
say "migrating the database"
run migrate "migration failed" "$MEDUSA" db:migrate

# 6. The admin user; "already exists" is the answer of a second run.
say "creating the admin user"
if ! "$MEDUSA" user -e "$MEDUSA_ADMIN_EMAIL" -p "$MEDUSA_ADMIN_PASSWORD" >"$LOG" 2>&1; then
    if grep -qi "already exists" "$LOG"; then
        say "the admin user exists"
    else
        cat "$LOG"
        if grep -q "JavaScript heap out of memory" "$LOG"; then fail admin "out of memory (JavaScript heap)"; fi
        fail admin "admin user failed"
    fi
fi

# 7. The seed (looks before it creates; writes state/publishable-key). Its
# region sells in SHOP_CURRENCY and ships to SHOP_COUNTRY (values shop.*), on
# the first run only: a store keeps the region it has.
SHOP_COUNTRY=${SHOP_COUNTRY:-US} SHOP_CURRENCY=${SHOP_CURRENCY:-USD}
case "$SHOP_COUNTRY" in
[A-Z][A-Z]) ;;
*) fail seed "SHOP_COUNTRY must be an ISO 3166-1 alpha-2 code such as DE, not '$SHOP_COUNTRY'" ;;
esac
case "$SHOP_CURRENCY" in
[A-Z][A-Z][A-Z]) ;;
*) fail seed "SHOP_CURRENCY must be an ISO 4217 code such as EUR, not '$SHOP_CURRENCY'" ;;
esac
export SHOP_COUNTRY SHOP_CURRENCY
say "seeding (a shop in $SHOP_COUNTRY selling in $SHOP_CURRENCY)"
run seed "seed failed" "$MEDUSA" exec ./src/scripts/seed.js
[ -s "$STATE/publishable-key" ] || fail seed "seed failed (no publishable key)"
fi

rm -f "$LOG"
if [ "$BUILD_ONLY" = false ] && [ ! -f "$STATE/setup-done" ]; then
    date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE/setup-done"
fi
say "done"
