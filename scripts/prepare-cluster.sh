#!/usr/bin/env bash
# `make run` on the local control plane: bring it up beside the platform,
# which already serves. On a first run that means building it from the Go
# module proxy (minutes); every step is reported in CLUSTER_STATUS_FILE
# (localcluster/status.py), which the dashboard shows on every page, and the
# provision queue claims no store until it says "ready" (stores wait in line
# meanwhile, their deadlines not yet running). Once it is ready, the stores
# that waited are started and `stores doctor` checks the rest.
#
#   CLUSTER_STATUS_FILE  the status file the platform reads (required)
#   CLUSTER_PREPARE_LOG  the build's and the start's output (<status dir>/cluster-prepare.log)
#   LOCALCLUSTER_DIR     the local control plane's state (<repo>/.localcluster)
#   PYTHON               the venv's python (<repo>/.venv/bin/python)
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-$root/.venv/bin/python}"
status="${CLUSTER_STATUS_FILE:?CLUSTER_STATUS_FILE names the status file}"
log="${CLUSTER_PREPARE_LOG:-$(dirname "$status")/cluster-prepare.log}"
state="${LOCALCLUSTER_DIR:-$root/.localcluster}"
cd "$root" || exit 1

say() { printf '[run] %s\n' "$*" >&2; }
report() { "$python" "$root/localcluster/status.py" "$status" "$@"; }

mkdir -p "$(dirname "$status")" "$(dirname "$log")"
report begin --pid $$ --log "$log" --doing "Checking the local control plane"
started=$(date +%s)
say "preparing the local control plane; the dashboard shows how far it is, the details go to $log"

rc=0
LOCALCLUSTER_STATUS_FILE="$status" LOCALCLUSTER_PYTHON="$python" LOCALCLUSTER_DIR="$state" LOCALCLUSTER_REAL_NODE=0 \
  bash "$root/localcluster/up.sh" > "$log" 2>&1 || rc=$?
if ((rc != 0)); then
  last=$(grep -v '^[[:space:]]*$' "$log" | tail -n 1)
  report failed "localcluster/up.sh stopped (exit $rc): ${last:-no output}"
  say "the local control plane could not be prepared (exit $rc); see $log, then make run again"
  exit "$rc"
fi
report ready
say "the local control plane is ready ($(($(date +%s) - started)) s); starting the stores that waited"
# Claims the free slots for the queued stores (the reconcile schedule would
# within a minute), then says what is missing, if anything.
"$python" manage.py stores reconcile >&2 || true
"$python" manage.py stores doctor >&2 || true
