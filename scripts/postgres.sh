#!/usr/bin/env bash
# A private PostgreSQL server for the tests, from Debian's `postgresql` package.
#
#   scripts/postgres.sh up     install the package if missing, create the cluster
#                              if missing, start it unless it runs; print DATABASE_URL
#   scripts/postgres.sh url    print DATABASE_URL (the server must be up)
#   scripts/postgres.sh down   stop the server (the data stays)
#
# State lives in $PGSTATE_DIR (default: .pgdata/ in the repository, gitignored):
# the data directory, the socket directory, the port and the log. The server
# listens on 127.0.0.1 on a port picked when it starts, trusts local
# connections (it holds nothing but test data) and runs as Debian's `postgres`
# user, because Postgres refuses to run as root.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
STATE=${PGSTATE_DIR:-$REPO/.pgdata}
DATA=$STATE/data
RUN=$STATE/run
DB_NAME=provisioner

log() { echo "postgres.sh: $*" >&2; }

pg_bin() {
    # Debian installs the server outside PATH, one directory per major version.
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] || return 1
    echo "$dir"
}

as_owner() {
    # Root may not run the server; an ordinary user runs it as itself.
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

install_package() {
    pg_bin >/dev/null && return 0
    if [ "$(id -u)" != 0 ]; then
        log "the postgresql package is missing: sudo apt-get install postgresql"
        exit 1
    fi
    log "installing Debian's postgresql"
    apt-get update -qq
    # The package's own cluster (main, port 5432) is not used: the tests get their own.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

running() {
    [ -f "$DATA/postmaster.pid" ] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

url() {
    echo "postgres://postgres@127.0.0.1:$(cat "$STATE/port")/$DB_NAME"
}

up() {
    install_package
    BIN=$(pg_bin)
    mkdir -p "$STATE"
    if [ "$(id -u)" = 0 ]; then
        # The server's user must reach its data directory through the repository.
        chown postgres: "$STATE"
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
        log "creating a cluster in $DATA"
        as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! running; then
        local port
        port=$(free_port)
        as_owner mkdir -p "$RUN"
        # fsync and full-page writes off: a crash loses only test data, and
        # the suite creates and drops its database on every run.
        as_owner "$BIN/pg_ctl" -D "$DATA" -l "$STATE/server.log" -w -t 60 start -o \
            "-p $port -h 127.0.0.1 -k $RUN -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
            >/dev/null
        echo "$port" >"$STATE/port"
        log "started on 127.0.0.1:$port"
    fi
    local port
    port=$(cat "$STATE/port")
    if ! as_owner "$BIN/psql" -h "$RUN" -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" \
        | grep -q 1; then
        as_owner "$BIN/createdb" -h "$RUN" -p "$port" -U postgres "$DB_NAME"
    fi
    url
}

down() {
    BIN=$(pg_bin) || return 0
    if running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -w -m fast stop >/dev/null
        log "stopped"
    fi
}

case "${1:-}" in
    up) up ;;
    url)
        BIN=$(pg_bin) || { log "postgresql is not installed"; exit 1; }
        running || { log "the server is not running: scripts/postgres.sh up"; exit 1; }
        url
        ;;
    down) down ;;
    *)
        echo "usage: $0 up|url|down" >&2
        exit 2
        ;;
esac
