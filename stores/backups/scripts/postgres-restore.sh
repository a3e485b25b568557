#!/bin/sh
# Restores $BACKUP_DIR/database.dump (made by postgres-dump.sh) into the
# store's PostgreSQL database, so that afterwards the database equals the
# backup: rows and tables made after the backup are gone.
#
# Same environment as postgres-dump.sh: DB_HOST, POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB, DB_PORT (default 5432).
#
# How: `pg_restore --clean --if-exists` drops and remakes only the objects the
# dump holds, so a table created after the backup would survive it. So the
# schema's contents are dropped first, and both happen in ONE transaction:
# pg_restore writes its SQL (--clean --if-exists --no-owner --no-privileges)
# into a single psql session that stops at the first error (what
# --single-transaction --exit-on-error would do), after the drops, and the
# COMMIT is sent only once pg_restore has read the whole archive. Whatever
# fails, the database is left as it was before the restore.
#
# What is dropped: in schema public, every table, view, materialized view,
# sequence, foreign table, routine and type; and every other schema whole. The
# system's schemas and extensions' objects are left alone, as are objects of
# roles the user cannot act for: the store's user owns the database and
# everything the store made in it (in the Medusa chart it is the server's
# superuser, the official image's POSTGRES_USER; a mere owner works as well).
set -eu

BACKUP_DIR=${BACKUP_DIR:-/backup}
IN=$BACKUP_DIR/database.dump

die() {
    echo "postgres-restore.sh: $*" >&2
    exit 1
}

for var in DB_HOST POSTGRES_USER POSTGRES_PASSWORD POSTGRES_DB; do
    eval "value=\${$var:-}"
    # shellcheck disable=SC2154 # value is set by the eval above
    [ -n "$value" ] || die "$var is not set"
done
[ -f "$IN" ] || die "$IN does not exist"
for tool in pg_restore psql pg_isready; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed in this image"
done

# See postgres-dump.sh: the connection comes from libpq's environment.
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

pg_restore --list "$IN" >/dev/null 2>&1 || die "$IN is not a dump pg_restore can read"

TMP=$(mktemp -d) || die "cannot make a temporary directory: ${TMPDIR:-/tmp} must be writable"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' HUP INT TERM

# The drop statements are all worked out before the first runs (a CASCADE may
# remove what a later one names: hence IF EXISTS).
cat >"$TMP/empty.sql" <<'SQL'
SET client_min_messages = warning;
DO $empty$
DECLARE
    statement text;
BEGIN
    FOR statement IN
        SELECT unnest(array_agg(sql ORDER BY rank, sql)) FROM (
            SELECT 1 AS rank, format('DROP SCHEMA IF EXISTS %I CASCADE', n.nspname) AS sql
              FROM pg_namespace n
             WHERE n.nspname NOT IN ('public', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
               AND pg_has_role(n.nspowner, 'USAGE')
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                                  AND d.objid = n.oid AND d.deptype = 'e')
            UNION ALL
            SELECT 2, format('DROP %s IF EXISTS public.%I CASCADE',
                             CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                            WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                            ELSE 'TABLE' END, c.relname)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
               AND NOT c.relispartition AND pg_has_role(c.relowner, 'USAGE')
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                  AND d.objid = c.oid AND d.deptype = 'e')
            UNION ALL
            SELECT 3, format('DROP ROUTINE IF EXISTS public.%I(%s) CASCADE',
                             p.proname, pg_get_function_identity_arguments(p.oid))
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public' AND pg_has_role(p.proowner, 'USAGE')
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                                  AND d.objid = p.oid AND d.deptype = 'e')
            UNION ALL
            SELECT 4, format('DROP %s IF EXISTS public.%I CASCADE',
                             CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.typname)
              FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE n.nspname = 'public' AND t.typtype IN ('c', 'd', 'e', 'r')
               AND (t.typtype <> 'c' OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
               AND pg_has_role(t.typowner, 'USAGE')
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass
                                  AND d.objid = t.oid AND d.deptype = 'e')
        ) AS drops
    LOOP
        EXECUTE statement;
    END LOOP;
END
$empty$;
SQL

# No pipefail in POSIX sh: pg_restore's status goes through a file. Without
# the COMMIT, psql's end of input ends the session and the server rolls the
# whole transaction back.
{
    echo "BEGIN;"
    cat "$TMP/empty.sql"
    if pg_restore --clean --if-exists --no-owner --no-privileges --file=- "$IN"; then
        echo "COMMIT;"
        echo 0 >"$TMP/restore.status"
    else
        echo 1 >"$TMP/restore.status"
    fi
} | psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --output=/dev/null \
    || die "restoring $IN into database '$POSTGRES_DB' failed; the database is as it was before"
[ "$(cat "$TMP/restore.status" 2>/dev/null)" = 0 ] \
    || die "pg_restore could not read all of $IN; the database is as it was before"

# pg_restore leaves the planner's statistics to autovacuum: gathered now, the
# store's first queries are planned on real figures. A user that is no
# superuser is warned about every system catalog it may not analyze: silenced.
# The restore is done whatever becomes of this.
psql --no-psqlrc --quiet --command="SET client_min_messages = error" --command="ANALYZE" >/dev/null \
    || echo "postgres-restore.sh: warning: ANALYZE failed after the restore; autovacuum will gather the statistics" >&2

echo "postgres-restore.sh: database '$POSTGRES_DB' restored from $IN"
