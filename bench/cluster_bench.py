"""What the cluster benchmarks share: Django set up against a scratch SQLite
database and the local cluster's kubeconfig and helm, and a WooCommerce release
installed as a provision leaves it, timed (Helm's own floor).

Import it before anything from the project: it sets the environment Django
reads at setup.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
STATE_DIR = Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster"))
HELM = STATE_DIR / "bin" / "helm"
WORKDIR = tempfile.mkdtemp(prefix="store-bench-")

os.environ.update(
    DATABASE_URL=f"sqlite:///{WORKDIR}/bench.sqlite3",
    KUBECONFIG=str(STATE_DIR / "kubeconfig"),
    HELM_BIN=str(HELM),
    HOME=WORKDIR,  # helm's cache and config
    CHECK_STORE_URL="false",
    LOG_LEVEL="WARNING",
    DJANGO_SETTINGS_MODULE="provisioner.settings",
)
# A throwaway database on this machine: development settings, so no SECRET_KEY is needed.
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from stores import clients, releases  # noqa: E402
from stores.engines import get_engine  # noqa: E402
from stores.engines.contract import RELEASE_NAME, SECRET_NAME  # noqa: E402
from stores.models import Store  # noqa: E402


def install_release(owner, slug: str, timeout_s: int = 600) -> tuple[str, float]:
    """(namespace, seconds of `helm install --wait --wait-for-jobs`) for a WooCommerce
    release with the values the platform would pass; no database row is written."""
    store = Store(owner=owner, slug=slug, engine="woocommerce", pk=10_000)
    engine = get_engine("woocommerce")
    spec = releases.store_spec(store)
    kube = clients.connect()
    kube.ensure_namespace(store.namespace, {"app.kubernetes.io/managed-by": "store-bench"})
    kube.ensure_secret(store.namespace, SECRET_NAME, engine.build_secret(spec))
    chart = releases.chart_dir("woocommerce")
    with tempfile.NamedTemporaryFile("w", suffix=".json") as values:
        json.dump(engine.build_values(spec), values)
        values.flush()
        args = [str(HELM), "install", RELEASE_NAME, str(chart), "-n", store.namespace]
        args += [a for f in releases.values_files(chart) for a in ("--values", f)]
        args += ["--values", values.name, "--wait", "--wait-for-jobs", "--timeout", f"{timeout_s}s"]
        started = time.monotonic()
        subprocess.run(args, check=True, capture_output=True)
        return store.namespace, time.monotonic() - started


def delete_release(namespace: str) -> tuple[float, float]:
    """(uninstall seconds, namespace seconds): the two steps of a store delete
    (stores.teardown), through the same cluster layer calls."""
    started = time.monotonic()
    clients.helm().uninstall(RELEASE_NAME, namespace)
    uninstalled = time.monotonic()
    clients.connect().delete_namespace(namespace, timeout=120)
    return uninstalled - started, time.monotonic() - uninstalled
