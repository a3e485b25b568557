#!/bin/sh
# Dumps the store's PostgreSQL database to $BACKUP_DIR/database.dump
# (pg_dump's custom format: compressed, and read back by postgres-restore.sh).
#
# Runs in the backup Job's container made from the store's own postgres image
# (so pg_dump matches the server's version), with the database container's
# environment: DB_HOST, POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB (DB_PORT
# defaults to 5432).
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backup}
OUT=$BACKUP_DIR/database.dump
PART=$OUT.partial

die() {
    echo "postgres-dump.sh: $*" >&2
    exit 1
}

for var in DB_HOST POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB; do
    eval "value=\${$var:-}"
    # shellcheck disable=SC2154 # value is set by the eval above
    [ -n "$value" ] || die "$var is not set"
done
[ -d "$BACKUP_DIR" ] || die "$BACKUP_DIR is not a directory"
command -v pg_dump >/dev/null 2>&1 || die "pg_dump is not installed in this image"
command -v pg_isready >/dev/null 2>&1 || die "pg_isready is not installed in this image"

# libpq reads the connection from its environment: the password stays off the
# command line (ps), and a database name is never taken for a connection
# string (as an argument holding '=' would be).
PGHOST=$DB_HOST
PGPORT=${DB_PORT:-5432}
PGUSER=$POSTGRES_USER
PGDATABASE=$POSTGRES_DB
PGPASSWORD=$POSTGRES_PASSWORD
PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-15}
export PGHOST PGPORT PGUSER PGDATABASE PGPASSWORD PGCONNECT_TIMEOUT

# A new pod's address reaches the NetworkPolicies that let it in to the
# database a moment after it starts (kube-router and Calico program them when
# they see the pod): wait until the server answers, up to DB_WAIT_SECONDS.
waited=0
until pg_isready --quiet --timeout=2; do
    [ "$waited" -lt "${DB_WAIT_SECONDS:-60}" ] || die "the database server at $PGHOST:$PGPORT does not answer (waited ${waited} s)"
    sleep 2
    waited=$((waited + 2))
done

# A stale dump from an earlier run must never pass for this run's result.
rm -f "$OUT" "$PART"
trap 'rm -f "$PART"' EXIT
trap 'exit 1' HUP INT TERM

# pg_dump reads in one snapshot (a consistent dump while the store runs).
# --no-owner --no-privileges: the restore makes the objects as whoever runs it
# (the store's user), so no role of the old server needs to exist.
pg_dump --format=custom --no-owner --no-privileges --file="$PART" \
    || die "pg_dump of database '$POSTGRES_DB' on $PGHOST:$PGPORT failed"
# Reading the archive's table of contents back proves it is whole enough to restore.
pg_restore --list "$PART" >/dev/null || die "pg_restore cannot read the dump pg_dump wrote"

mv "$PART" "$OUT"
echo "postgres-dump.sh: database '$POSTGRES_DB' dumped to $OUT ($(wc -c <"$OUT" | tr -d ' ') bytes)"
