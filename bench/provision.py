"""How close a store's create-to-ready time comes to Helm's own floor.

Prints one JSON line:
  create_to_ready_median_s  create request -> store ready, through the real task
                            workers (median of --runs stores, one at a time)
  helm_floor_median_s       `helm install --wait --wait-for-jobs` of the same chart
                            and values on the same cluster (median of --runs)
  ratio                     create_to_ready / floor (target: at most 1.10)
  makespan_6_s              6 stores created at once, limit 2 provisioning at a time
  makespan_ratio            makespan_6_s / (3 * create_to_ready_median_s): 1.0 when
                            a freed slot is taken at once (target: at most 1.15)
  handoff_ms                for each batch store that waited for a slot: the freeing
                            store's ready -> this store's claim (ms)
  pickup_ms                 for every batch store: claim -> its worker's first step (ms)
Run with `make bench` (it brings up the local control plane first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
STATE_DIR = Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster"))
KUBECONFIG = STATE_DIR / "kubeconfig"
HELM = STATE_DIR / "bin" / "helm"

_workdir = tempfile.mkdtemp(prefix="store-bench-")
os.environ.update(
    DATABASE_URL=f"sqlite:///{_workdir}/bench.sqlite3",
    KUBECONFIG=str(KUBECONFIG),
    HELM_BIN=str(HELM),
    CHECK_STORE_URL="false",
    LOG_LEVEL="WARNING",
    DJANGO_SETTINGS_MODULE="provisioner.settings",
)

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from stores import clients, lifecycle, releases, tasks  # noqa: E402
from stores.engines import get_engine  # noqa: E402
from stores.engines.contract import RELEASE_NAME, SECRET_NAME  # noqa: E402
from stores.models import FINAL, Status, Store, StoreEvent  # noqa: E402
from tests.platform import Platform  # noqa: E402


def wait_final(ids: list[int], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Store.objects.filter(pk__in=ids, status__in=FINAL).count() == len(ids):
            return
        time.sleep(0.02)
    raise SystemExit(f"stores {ids} not final after {timeout} s")


def delete_all() -> None:
    for store in Store.objects.live():
        if store.status != Status.DELETING:
            lifecycle.request_delete(store.pk)
        tasks.delete(store.pk)


def time_create_to_ready(owner, slug: str) -> float:
    started = time.monotonic()
    store = tasks.request_create(owner, slug, "woocommerce")
    wait_final([store.pk])
    elapsed = time.monotonic() - started
    store.refresh_from_db()
    if store.status != Status.READY:
        raise SystemExit(f"{slug} failed: {store.failure_reason}")
    return elapsed


def time_helm_floor(owner, slug: str) -> float:
    """helm install --wait --wait-for-jobs with the values the platform would pass."""
    store = Store(owner=owner, slug=slug, engine="woocommerce", pk=10_000)
    engine = get_engine("woocommerce")
    spec = releases.store_spec(store)
    kube = clients.connect()
    kube.ensure_namespace(store.namespace, {"app.kubernetes.io/managed-by": "store-bench"})
    kube.ensure_secret(store.namespace, SECRET_NAME, engine.build_secret(spec))
    chart = REPO_ROOT / "charts" / engine.chart
    with tempfile.NamedTemporaryFile("w", suffix=".json") as values:
        json.dump(engine.build_values(spec), values)
        values.flush()
        args = [
            str(HELM),
            "install",
            RELEASE_NAME,
            str(chart),
            "-n",
            store.namespace,
            *[a for f in releases.values_files(chart) for a in ("--values", f)],
            "--values",
            values.name,
            "--wait",
            "--wait-for-jobs",
            "--timeout",
            "600s",
        ]
        started = time.monotonic()
        subprocess.run(args, check=True, capture_output=True, env={**os.environ, "HOME": _workdir})
        elapsed = time.monotonic() - started
    subprocess.run(
        [str(HELM), "uninstall", RELEASE_NAME, "-n", store.namespace],
        check=True,
        capture_output=True,
        env={**os.environ, "HOME": _workdir},
    )
    kube.delete_namespace(store.namespace)
    return elapsed


def slot_timings(ids: list[int]) -> tuple[list[int], list[int]]:
    """Where a batch store waited between a freed slot and its first step (ms)."""
    stores = list(Store.objects.filter(pk__in=ids).order_by("started_at"))
    readies = sorted(s.ready_at for s in stores)
    handoff, pickup = [], []
    for store in stores:
        freed = [r for r in readies if r <= store.started_at]
        if freed:  # it waited for a slot: the last ready before its claim freed it
            handoff.append(round((store.started_at - freed[-1]).total_seconds() * 1000))
        first = StoreEvent.objects.filter(store=store, message__startswith="Connected to Kubernetes").first()
        pickup.append(round((first.created_at - store.started_at).total_seconds() * 1000))
    return handoff, pickup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    User = get_user_model()
    owners = [User.objects.create_user(f"bench{i}") for i in range(6)]
    workers = Platform(connection.settings_dict, LOG_LEVEL="WARNING")
    workers.start_workers()
    try:
        time.sleep(3)  # let both clusters start polling
        singles, floors = [], []
        for i in range(args.runs):
            singles.append(time_create_to_ready(owners[0], f"bench-single-{i}"))
            delete_all()
            floors.append(time_helm_floor(owners[0], f"bench-floor-{i}"))

        started = time.monotonic()
        ids = [tasks.request_create(owner, f"bench-batch-{i}", "woocommerce").pk for i, owner in enumerate(owners)]
        wait_final(ids)
        makespan = time.monotonic() - started
        assert Store.objects.filter(pk__in=ids, status=Status.READY).count() == 6
        handoff, pickup = slot_timings(ids)
        delete_all()
    finally:
        workers.stop()

    single, floor = statistics.median(singles), statistics.median(floors)
    print(
        json.dumps(
            {
                "runs": args.runs,
                "create_to_ready_median_s": round(single, 2),
                "helm_floor_median_s": round(floor, 2),
                "ratio": round(single / floor, 3),
                "makespan_6_s": round(makespan, 2),
                "makespan_ratio": round(makespan / (3 * single), 3),
                "handoff_ms": handoff,
                "pickup_ms": pickup,
                "create_to_ready_s": [round(s, 2) for s in singles],
                "helm_floor_s": [round(f, 2) for f in floors],
            }
        )
    )


if __name__ == "__main__":
    main()
