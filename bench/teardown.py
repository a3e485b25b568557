"""Where the time of a store delete goes on the local control plane.

Installs the WooCommerce chart with the values the platform would pass
(`helm install --wait --wait-for-jobs`, as bench/provision.py's floor), then
deletes it with the calls a store delete makes (stores.teardown.teardown):
`helm uninstall`, then the cluster layer's delete_namespace, which returns once
the namespace is gone. Prints one JSON line:
  uninstall_median_s   helm uninstall (--runs stores, one at a time)
  namespace_median_s   delete_namespace: request -> namespace gone
  delete_median_s      the two together: one store's delete
  concurrent_n, concurrent_makespan_s
                       --concurrent stores deleted at once, each in its own
                       thread (as the tests' cleanup does): first request ->
                       last namespace gone
  namespace_s, delete_s
                       every figure, not only the median
kube-controller-manager's namespace controller makes its first pass over a
deleted namespace 5 s after the delete (a constant in its code, no flag), and
another 5 s after a pass that leaves something behind (localcluster/README.md,
"How long deleting a namespace takes"). Run with `make bench-teardown` (it
brings up the local control plane first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
STATE_DIR = Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster"))
KUBECONFIG = STATE_DIR / "kubeconfig"
HELM = STATE_DIR / "bin" / "helm"

_workdir = tempfile.mkdtemp(prefix="store-bench-")
os.environ.update(
    DATABASE_URL=f"sqlite:///{_workdir}/db.sqlite3",
    KUBECONFIG=str(KUBECONFIG),
    HELM_BIN=str(HELM),
    HOME=_workdir,  # helm's cache and config
    LOG_LEVEL="WARNING",
    DJANGO_SETTINGS_MODULE="provisioner.settings",
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402

from stores import provisioning  # noqa: E402
from stores.engines import get_engine  # noqa: E402
from stores.models import Store  # noqa: E402


def install(slug: str) -> str:
    """A WooCommerce release as a provision leaves it (no database row needed)."""
    store = Store(owner=get_user_model()(pk=1), slug=slug, engine="woocommerce", pk=10_000)
    engine = get_engine("woocommerce")
    spec = provisioning.store_spec(store)
    kube = provisioning.connect()
    kube.ensure_namespace(store.namespace, {"app.kubernetes.io/managed-by": "store-bench"})
    kube.ensure_secret(store.namespace, provisioning.SECRET_NAME, engine.build_secret(spec))
    chart = REPO_ROOT / "charts" / engine.chart
    with tempfile.NamedTemporaryFile("w", suffix=".json") as values:
        json.dump(engine.build_values(spec), values)
        values.flush()
        subprocess.run(
            [
                str(HELM),
                "install",
                provisioning.RELEASE_NAME,
                str(chart),
                "-n",
                store.namespace,
                *[a for f in provisioning.chart_values_files(chart) for a in ("--values", f)],
                "--values",
                values.name,
                "--wait",
                "--wait-for-jobs",
                "--timeout",
                "120s",
            ],
            check=True,
            capture_output=True,
        )
    return store.namespace


def delete(namespace: str) -> tuple[float, float]:
    """(uninstall seconds, namespace seconds): the two steps of a store delete."""
    started = time.monotonic()
    provisioning.helm().uninstall(provisioning.RELEASE_NAME, namespace)
    uninstalled = time.monotonic()
    provisioning.connect().delete_namespace(namespace, timeout=120)
    return uninstalled - started, time.monotonic() - uninstalled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=3)
    args = parser.parse_args()

    uninstall, namespace, total = [], [], []
    for i in range(args.runs):
        ns = install(f"bench-delete-{i}")
        time.sleep(1)  # let the controllers settle, as between a test's body and its teardown
        u, n = delete(ns)
        uninstall.append(u)
        namespace.append(n)
        total.append(u + n)

    batch = [install(f"bench-delete-batch-{i}") for i in range(args.concurrent)]
    time.sleep(1)
    started = time.monotonic()
    threads = [threading.Thread(target=delete, args=(ns,)) for ns in batch]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    makespan = time.monotonic() - started

    print(
        json.dumps(
            {
                "runs": args.runs,
                "uninstall_median_s": round(statistics.median(uninstall), 2),
                "namespace_median_s": round(statistics.median(namespace), 2),
                "delete_median_s": round(statistics.median(total), 2),
                "concurrent_n": args.concurrent,
                "concurrent_makespan_s": round(makespan, 2),
                "namespace_s": [round(x, 2) for x in namespace],
                "delete_s": [round(x, 2) for x in total],
            }
        )
    )


if __name__ == "__main__":
    main()
