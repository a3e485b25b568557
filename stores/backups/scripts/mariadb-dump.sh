#!/bin/sh
# Dumps the store's MariaDB database to $BACKUP_DIR/database.sql.gz.
#
# Runs in the backup Job's container made from the store's own mariadb image,
# with the database container's environment: DB_HOST, MARIADB_USER,
# MARIADB_PASSWORD, MARIADB_DATABASE (DB_PORT defaults to 3306). The user is the
# store's own (all privileges on its database, none elsewhere), not root.
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backup}
DB_PORT=${DB_PORT:-3306}
OUT=$BACKUP_DIR/database.sql.gz
PART=$OUT.partial

die() {
    echo "mariadb-dump.sh: $*" >&2
    exit 1
}

for var in DB_HOST MARIADB_USER MARIADB_PASSWORD MARIADB_DATABASE; do
    eval "value=\${$var:-}"
    # shellcheck disable=SC2154 # value is set by the eval above
    [ -n "$value" ] || die "$var is not set"
done
[ -d "$BACKUP_DIR" ] || die "$BACKUP_DIR is not a directory"
command -v mariadb-dump >/dev/null 2>&1 || die "mariadb-dump is not installed in this image"
command -v mariadb-admin >/dev/null 2>&1 || die "mariadb-admin is not installed in this image"

# A stale archive from an earlier run must never pass for this run's result.
rm -f "$OUT" "$PART"

# The password goes in a client option file only this user can read: on the
# command line every process in the container could see it (ps).
TMP=$(mktemp -d) || die "cannot make a temporary directory: ${TMPDIR:-/tmp} must be writable"
trap 'rm -rf "$TMP" "$PART"' EXIT
trap 'exit 1' HUP INT TERM

# Option-file values in double quotes keep spaces and '#'; inside them the
# client reads \\ and \" as escapes.
quote() {
    printf '"%s"' "$(printf '%s' "$1" | sed 's/[\\"]/\\&/g')"
}
case $MARIADB_PASSWORD$MARIADB_USER$DB_HOST in
    *"
"*) die "DB_HOST, MARIADB_USER and MARIADB_PASSWORD must be single lines" ;;
esac
# mktemp makes the directory private (0700); umask 077 the file as well
# (only there: the archive is for the Job's other containers to read).
(
    umask 077
    {
        echo "[client]"
        echo "host=$(quote "$DB_HOST")"
        echo "port=$DB_PORT"
        echo "user=$(quote "$MARIADB_USER")"
        echo "password=$(quote "$MARIADB_PASSWORD")"
    } >"$TMP/client.cnf"
)

# A new pod's address reaches the NetworkPolicies that let it in to the
# database a moment after it starts (kube-router and Calico program them when
# they see the pod): wait until the server answers, up to DB_WAIT_SECONDS.
# mariadb-admin ping answers yes to a server that refuses the login too, so
# wrong credentials fail below, with their own message, at once.
waited=0
until mariadb-admin --defaults-extra-file="$TMP/client.cnf" --connect-timeout=2 ping >/dev/null 2>&1; do
    [ "$waited" -lt "${DB_WAIT_SECONDS:-60}" ] || die "the database server at $DB_HOST:$DB_PORT does not answer (waited ${waited} s)"
    sleep 2
    waited=$((waited + 2))
done

# --single-transaction: one consistent InnoDB snapshot, without LOCK TABLES
#   (WordPress and WooCommerce tables are InnoDB);
# --quick: rows stream through rather than being held in memory;
# --routines --triggers --events: everything the database holds besides tables
#   (the store's user has ALL on its database, which includes EVENT and TRIGGER);
# --hex-blob: binary columns survive any client character set;
# --no-tablespaces: tablespace statements would need the PROCESS privilege,
#   which the store's user lacks, and WordPress defines none;
# --skip-add-locks: no LOCK TABLES in the dump either, so that loading it needs
#   no LOCK TABLES privilege (InnoDB gains nothing from them);
# no --databases: the dump holds no CREATE DATABASE or USE, so it loads into
#   whatever database the restore names.
# POSIX sh has no pipefail: the dump's exit status goes through a file, and a
# dump that failed leaves no archive behind.
{
    status=0
    mariadb-dump --defaults-extra-file="$TMP/client.cnf" \
        --single-transaction --quick --routines --triggers --events --hex-blob \
        --default-character-set=utf8mb4 --no-tablespaces --skip-add-locks \
        -- "$MARIADB_DATABASE" || status=$?
    echo "$status" >"$TMP/dump.status"
} | gzip -c >"$PART" || die "gzip failed writing $PART"

status=$(cat "$TMP/dump.status" 2>/dev/null || echo unknown)
[ "$status" = 0 ] || die "mariadb-dump of database '$MARIADB_DATABASE' on $DB_HOST:$DB_PORT failed (exit status $status)"

# mariadb-dump writes this line last: its absence means a cut-short dump.
gzip -dc "$PART" | tail -n 1 | grep -q '^-- Dump completed' \
    || die "the dump of '$MARIADB_DATABASE' does not end with mariadb-dump's completion line"

mv "$PART" "$OUT"
echo "mariadb-dump.sh: database '$MARIADB_DATABASE' dumped to $OUT ($(wc -c <"$OUT" | tr -d ' ') bytes)"
