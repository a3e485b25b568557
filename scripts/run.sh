#!/usr/bin/env bash
# `make run`: pick a cluster (scripts/run-cluster.sh: the current kubeconfig's,
# else kind, else the local control plane), prepare the database and the static
# files, then start the web server and both task queues (Procfile) with honcho.
# The local control plane is not waited for (its first build takes minutes):
# scripts/prepare-cluster.sh brings it up beside the platform, which shows how
# far it is on every page and keeps stores queued until it is ready.
#   PORT, HOST   where the site listens (8000, 127.0.0.1); SITE_URL, the link
#                in the owners' mails, follows them unless it is set
#   VENV_BIN     the venv's bin directory (<repo>/.venv/bin)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${VENV_BIN:-$root/.venv/bin}"
cd "$root"

# Left over from a shell that ran the platform before: this run decides anew.
unset CLUSTER_STATUS_FILE LOCALCLUSTER_PREPARE
cluster_env=$(PYTHON="$bin/python" LOCALCLUSTER_BACKGROUND=1 bash "$here/run-cluster.sh")
eval "$cluster_env"

# The owners' mails link to the store page where this site listens (a
# wildcard address is reached on loopback from this machine).
site_host="${HOST:-127.0.0.1}"
if [[ "$site_host" == 0.0.0.0 || "$site_host" == "::" ]]; then site_host=127.0.0.1; fi
export SITE_URL="${SITE_URL:-http://$site_host:${PORT:-8000}}"

"$bin/python" manage.py migrate --noinput

# The local control plane (when no other cluster answers) is prepared beside
# the platform, in a session of its own so that it can be stopped whole if the
# platform stops first; the control plane it starts outlives both, as a
# cluster would.
preparing=""
stop_preparing() {
  if [[ -n "$preparing" ]] && kill -0 "$preparing" 2> /dev/null; then
    printf '[run] stopping the preparation of the local control plane\n' >&2
    kill -TERM -- "-$preparing" 2> /dev/null || true
  fi
}
if [[ "${LOCALCLUSTER_PREPARE:-}" == 1 ]]; then
  rm -f "$CLUSTER_STATUS_FILE" # a previous run's "ready" must not open the queue
  PYTHON="$bin/python" setsid bash "$here/prepare-cluster.sh" &
  preparing=$!
  trap stop_preparing EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
fi

"$bin/python" manage.py collectstatic --noinput --verbosity 0
if [[ -z "$preparing" ]]; then
  # Says what is missing (helm, images) without stopping the start
  # (prepare-cluster.sh does it once the local control plane is ready).
  "$bin/python" manage.py stores doctor || true
  PATH="$bin:$PATH" exec "$bin/honcho" start -f Procfile
fi
PATH="$bin:$PATH" "$bin/honcho" start -f Procfile
