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
import statistics
import time

from cluster_bench import delete_release, install_release  # first: it sets Django up
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection

from stores import lifecycle, tasks
from stores.models import FINAL, Status, Store, StoreEvent
from tests.platform import Platform


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
    namespace, elapsed = install_release(owner, slug)
    delete_release(namespace)
    return elapsed


def slot_timings(ids: list[int]) -> tuple[list[int], list[int]]:
    """Where a batch store waited between a freed slot and its first step (ms)."""
    stores = list(Store.objects.filter(pk__in=ids).order_by("started_at"))
    readies = sorted(s.ready_at for s in stores if s.ready_at)
    handoff, pickup = [], []
    for store in stores:
        claimed = store.started_at
        assert claimed is not None, f"{store.slug} was never claimed"
        freed = [r for r in readies if r <= claimed]
        if freed:  # it waited for a slot: the last ready before its claim freed it
            handoff.append(round((claimed - freed[-1]).total_seconds() * 1000))
        # The worker's first line: it connected, at the start of the namespace step.
        first = StoreEvent.objects.filter(store=store, step="namespace", created_at__gte=claimed).first()
        assert first is not None, f"{store.slug} has no namespace step"
        pickup.append(round((first.created_at - claimed).total_seconds() * 1000))
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
