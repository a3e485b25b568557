#!/usr/bin/env bash
# `make run`: pick a cluster (scripts/run-cluster.sh: the current kubeconfig's,
# else kind, else the local control plane), prepare the database and the static
# files, then start the web server and both task queues (Procfile) with honcho.
#   PORT, HOST   where the site listens (8000, 127.0.0.1); SITE_URL, the link
#                in the owners' mails, follows them unless it is set
#   VENV_BIN     the venv's bin directory (<repo>/.venv/bin)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
bin="${VENV_BIN:-$root/.venv/bin}"
cd "$root"

cluster_env=$(PYTHON="$bin/python" bash "$here/run-cluster.sh")
eval "$cluster_env"

# The owners' mails link to the store page where this site listens (a
# wildcard address is reached on loopback from this machine).
site_host="${HOST:-127.0.0.1}"
if [[ "$site_host" == 0.0.0.0 || "$site_host" == "::" ]]; then site_host=127.0.0.1; fi
export SITE_URL="${SITE_URL:-http://$site_host:${PORT:-8000}}"

"$bin/python" manage.py migrate --noinput
"$bin/python" manage.py collectstatic --noinput --verbosity 0
# Says what is missing (helm, images) without stopping the start.
"$bin/python" manage.py stores doctor || true
PATH="$bin:$PATH" exec "$bin/honcho" start -f Procfile
