#!/bin/sh
# Loads $BACKUP_DIR/database.sql.gz (made by mariadb-dump.sh) into the store's
# MariaDB database, so that afterwards the database equals the backup.
#
# Same environment as mariadb-dump.sh: DB_HOST, MARIADB_USER, MARIADB_PASSWORD,
# MARIADB_DATABASE, DB_PORT (default 3306).
#
# MariaDB cannot roll back DDL, so the restore is not atomic: if it fails half
# way the database is left part-restored, and running it again finishes the
# job (it starts by emptying the database). The archive is checked whole
# before anything is dropped.
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backup}
DB_PORT=${DB_PORT:-3306}
IN=$BACKUP_DIR/database.sql.gz

die() {
    echo "mariadb-restore.sh: $*" >&2
    exit 1
}

for var in DB_HOST MARIADB_USER MARIADB_PASSWORD MARIADB_DATABASE; do
    eval "value=\${$var:-}"
    # shellcheck disable=SC2154 # value is set by the eval above
    [ -n "$value" ] || die "$var is not set"
done
[ -f "$IN" ] || die "$IN does not exist"
command -v mariadb >/dev/null 2>&1 || die "the mariadb client is not installed in this image"
command -v mariadb-admin >/dev/null 2>&1 || die "mariadb-admin is not installed in this image"

# A damaged archive must be found before the database is emptied, not after.
gzip -t "$IN" 2>/dev/null || die "$IN is not a valid gzip file"
gzip -dc "$IN" | tail -n 1 | grep -q '^-- Dump completed' \
    || die "$IN does not end with mariadb-dump's completion line: a cut-short dump"

# The password stays off the command line (see mariadb-dump.sh).
TMP=$(mktemp -d) || die "cannot make a temporary directory: ${TMPDIR:-/tmp} must be writable"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' HUP INT TERM

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

# --max-allowed-packet: a row as large as the server accepts (a big
# serialized option, say) must not be refused by the client first.
client() {
    mariadb --defaults-extra-file="$TMP/client.cnf" --default-character-set=utf8mb4 \
        --max-allowed-packet=1G "$@" -- "$MARIADB_DATABASE"
}

# The dump drops and recreates only the tables it holds: a table, view,
# sequence, routine or event created after the backup would survive it. So
# everything in the database is dropped first, with foreign key checks off so
# that the order does not matter. The server writes the DROP statements itself,
# quoting the names (a name may hold a backquote).
cat >"$TMP/list-drops.sql" <<'SQL'
SELECT CONCAT('DROP ',
              CASE table_type WHEN 'VIEW' THEN 'VIEW' WHEN 'SEQUENCE' THEN 'SEQUENCE' ELSE 'TABLE' END,
              ' IF EXISTS `', REPLACE(table_name, '`', '``'), '`;')
  FROM information_schema.tables WHERE table_schema = DATABASE()
 ORDER BY table_type = 'VIEW' DESC, table_name;
SELECT CONCAT('DROP ', routine_type, ' IF EXISTS `', REPLACE(routine_name, '`', '``'), '`;')
  FROM information_schema.routines WHERE routine_schema = DATABASE();
SELECT CONCAT('DROP EVENT IF EXISTS `', REPLACE(event_name, '`', '``'), '`;')
  FROM information_schema.events WHERE event_schema = DATABASE();
SQL
{
    echo "SET FOREIGN_KEY_CHECKS = 0;"
    client --batch --skip-column-names --raw <"$TMP/list-drops.sql"
} >"$TMP/drops.sql" || die "could not list the objects of database '$MARIADB_DATABASE' on $DB_HOST:$DB_PORT"
client <"$TMP/drops.sql" || die "could not empty database '$MARIADB_DATABASE' before loading the backup"

# No pipefail in POSIX sh: gzip's status goes through a file.
{
    status=0
    gzip -dc "$IN" || status=$?
    echo "$status" >"$TMP/gzip.status"
} | client || die "loading $IN into database '$MARIADB_DATABASE' failed; the database is part-restored: run the restore again"
[ "$(cat "$TMP/gzip.status")" = 0 ] || die "reading $IN failed; the database is part-restored: run the restore again"

echo "mariadb-restore.sh: database '$MARIADB_DATABASE' restored from $IN"
