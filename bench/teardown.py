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
import statistics
import threading
import time

from cluster_bench import delete_release, install_release  # first: it sets Django up
from django.contrib.auth import get_user_model


def install(slug: str) -> str:
    """A WooCommerce release as a provision leaves it (no database row needed)."""
    namespace, _ = install_release(get_user_model()(pk=1), slug, timeout_s=120)
    return namespace


delete = delete_release


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
