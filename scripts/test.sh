#!/usr/bin/env bash
# `make test`: every test, in two passes side by side. Every test that touches
# the database runs in both, on SQLite and on PostgreSQL. The real-node tests
# run in the SQLite pass only: the real node runs one pass's pods (there is
# one per machine), and what they check (pods, Services, NetworkPolicies on a
# real kubelet) does not change with the database. The tests that never touch
# the database (charts, engines, the cluster layer, scripts) run once, in the
# PostgreSQL pass, which would otherwise end minutes before the other; those
# marked sqlite_pass (the backup scripts and the object store, about a minute)
# run in the SQLite pass instead, which would otherwise end before it. Each
# pass has its own local control plane (the same store names are created in
# both) and its own database. Most of a pass is waiting (on the API server,
# helm, a browser, worker processes), so the two overlap well on two cores.
#
# What it starts for the run (the local control plane and its real node, the
# PostgreSQL pass's control plane, the PostgreSQL server: about 1.9 GB) it
# stops when it ends, and says so; what already ran before it is left running.
#
#   VENV_BIN      the virtualenv's bin directory (the Makefile passes it)
#   KEEP_CLUSTER  1: leave running what this run started as well
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

main_state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
pg_state="$root/.localcluster-pg"

cluster_running() {
  [[ -x "$1/bin/kubectl" && -f "$1/kubeconfig" ]] \
    && "$1/bin/kubectl" --kubeconfig "$1/kubeconfig" --request-timeout=3s get --raw /readyz > /dev/null 2>&1
}
node_running() {
  local pid
  pid="$(cat "$main_state/node/supervise.pid" 2> /dev/null)" && kill -0 "$pid" 2> /dev/null
}
postgres_running() { bash scripts/postgres.sh url > /dev/null 2>&1; }

# What runs before this run, it leaves running.
ran_before=()
cluster_running "$main_state" && ran_before+=(cluster)
node_running && ran_before+=(node)
cluster_running "$pg_state" && ran_before+=(pg-cluster)
postgres_running && ran_before+=(postgres)
before() { [[ " ${ran_before[*]} " == *" $1 "* ]]; }

describe() {
  case "$1" in
    cluster) echo "the local control plane (${main_state#"$root"/})" ;;
    node) echo "its real node" ;;
    pg-cluster) echo "the PostgreSQL pass's control plane (${pg_state#"$root"/})" ;;
    postgres) echo "the PostgreSQL server (scripts/postgres.sh)" ;;
  esac
}

stop() {
  case "$1" in
    # The node first: it needs the API server to clean up after itself.
    node) LOCALCLUSTER_DIR="$main_state" bash localcluster/node.sh down > /dev/null 2>&1 ;;
    # Removed with its state (the binaries stay cached): the next `make test`
    # creates it again in about 10 s. (A cluster stopped and started again
    # kept a provision waiting for minutes right after its restart.)
    cluster) LOCALCLUSTER_DIR="$main_state" bash localcluster/down.sh > /dev/null 2>&1 ;;
    pg-cluster) LOCALCLUSTER_DIR="$pg_state" bash localcluster/down.sh > /dev/null 2>&1 ;;
    postgres) bash scripts/postgres.sh down 2> /dev/null ;;
  esac
}

# Runs when the script ends, however it ends: stops what this run started
# (unless KEEP_CLUSTER=1) and says what is left running.
finish() {
  local running=() thing stopped=() kept=()
  node_running && running+=(node)
  cluster_running "$main_state" && running+=(cluster)
  cluster_running "$pg_state" && running+=(pg-cluster)
  postgres_running && running+=(postgres)
  for thing in "${running[@]}"; do
    if before "$thing" || [[ "${KEEP_CLUSTER:-0}" == 1 ]]; then
      kept+=("$thing")
    elif stop "$thing"; then
      stopped+=("$thing")
    else
      echo "== could not stop $(describe "$thing")"
      kept+=("$thing")
    fi
  done
  for thing in "${stopped[@]}"; do echo "== stopped $(describe "$thing"), which this run started"; done
  for thing in "${kept[@]}"; do
    if before "$thing"; then
      echo "== left running $(describe "$thing"), as it ran before this run"
    else
      echo "== left running $(describe "$thing") (KEEP_CLUSTER=1)"
    fi
  done
  if ((${#kept[@]})); then
    echo "== stop them with: make cluster-down (the control planes and the node), scripts/postgres.sh down"
  elif ((!${#stopped[@]})); then
    echo "== nothing of this run is left running"
  fi
}
trap finish EXIT

# The local control plane and, where the machine allows it, its real node
# (what `make cluster` does).
bash localcluster/up.sh || exit 1

# The URL is checked first so that a server that failed to start cannot fall
# back to SQLite unnoticed (scripts/postgres.sh: installed, created and
# started on first use, reused after).
url="$(bash scripts/postgres.sh up)"
if [[ -z "$url" ]]; then
  echo "test.sh: PostgreSQL did not start (scripts/postgres.sh up)" >&2
  exit 1
fi

# The real-node Medusa test's images (localcluster/store-images.sh: Debian's
# root file system, the PostgreSQL and Redis stand-ins, the Medusa store image
# and its next version), built beside the first tests rather than inside the
# one that needs them; it takes the same lock and finds them made. Cached, so
# a warm run builds nothing.
images_log="$root/artifacts/logs/store-images.log"
mkdir -p "$(dirname "$images_log")"
{ bash localcluster/store-images.sh build \
    && MEDUSA_OVERLAY="$root/tests/realnode/medusa-upgrade" bash localcluster/store-images.sh build; } \
  > "$images_log" 2>&1 &
echo "== the store images build beside the tests; their log: $images_log"

echo "== the PostgreSQL pass runs beside this one; its output: $log"
LOCALCLUSTER_DIR="$root/.localcluster-pg" LOCALCLUSTER_REAL_NODE=0 DATABASE_URL="$url" TEST_ARTIFACTS_DIR="$pg_artifacts" \
  "$python" -m pytest -m "not realnode and not sqlite_pass" -p no:cacheprovider "$@" > "$log" 2>&1 &
postgres_pass=$!
# The PostgreSQL pass stops with this script.
trap 'kill "$postgres_pass" 2> /dev/null' INT TERM

"$python" -m pytest --database-or-realnode-tests-only "$@"
sqlite_rc=$?

echo "== waiting for the PostgreSQL pass"
wait "$postgres_pass"
postgres_rc=$?
echo "== the PostgreSQL pass (exit $postgres_rc)"
cat "$log"
echo "== SQLite pass: exit $sqlite_rc; PostgreSQL pass: exit $postgres_rc"
((sqlite_rc == 0 && postgres_rc == 0))
