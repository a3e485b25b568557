#!/usr/bin/env bash
# `make test`: every test on SQLite and, at the same time, every test that
# touches the database again on PostgreSQL. Each pass has its own local
# control plane (the same store names are created in both) and its own
# database; the real node runs one pass's pods (there is one per machine), so
# the PostgreSQL pass leaves the real-node tests out: what they check (pods,
# Services, NetworkPolicies on a real kubelet) does not change with the
# database. Most of a pass is waiting (on the API server, helm, a browser,
# worker processes), so the two overlap well on two cores.
#
#   VENV_BIN   the virtualenv's bin directory (the Makefile passes it)
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root" || exit 1
python="${VENV_BIN:-$root/.venv/bin}/python"
# The PostgreSQL pass keeps its process logs and screenshots apart
# (tests/platform.py ARTIFACTS_DIR): both passes start workers with the same
# log names, and a test reading its workers' log must not see the other's.
pg_artifacts="$root/artifacts/postgres"
log="$pg_artifacts/logs/test-postgres.log"
mkdir -p "$(dirname "$log")"

# The URL is checked first so that a server that failed to start cannot fall
# back to SQLite unnoticed (scripts/postgres.sh: installed, created and
# started on first use, reused after).
url="$(bash scripts/postgres.sh up)"
if [[ -z "$url" ]]; then
  echo "test.sh: PostgreSQL did not start (scripts/postgres.sh up)" >&2
  exit 1
fi

echo "== the PostgreSQL pass runs beside this one; its output: $log"
LOCALCLUSTER_DIR="$root/.localcluster-pg" LOCALCLUSTER_REAL_NODE=0 DATABASE_URL="$url" TEST_ARTIFACTS_DIR="$pg_artifacts" \
  "$python" -m pytest --database-tests-only -m "not realnode" -p no:cacheprovider "$@" > "$log" 2>&1 &
postgres_pass=$!
# The PostgreSQL pass stops with this script.
trap 'kill "$postgres_pass" 2> /dev/null' INT TERM

"$python" -m pytest "$@"
sqlite_rc=$?

echo "== waiting for the PostgreSQL pass"
wait "$postgres_pass"
postgres_rc=$?
echo "== the PostgreSQL pass (exit $postgres_rc)"
cat "$log"
echo "== SQLite pass: exit $sqlite_rc; PostgreSQL pass: exit $postgres_rc"
((sqlite_rc == 0 && postgres_rc == 0))
