"""The order queued stores start in: round robin across owners.

Slots are few (MAX_CONCURRENT_PROVISIONS) and a provision takes minutes, so
first come, first served lets one owner's burst of creates or retries hold
every slot while everyone else waits. The next store to start is instead the
oldest queued store of the owner served least recently: owners never served
first (the one queued longest ago leading), then the owner whose last provision
started longest ago. Once an owner is served they go to the back of the line.

The claim (lifecycle.claim_provision_slots) and the place in line the pages show
read the same order, from two queries however long the queue is.
"""

from collections import deque
from datetime import datetime
from itertools import count

from django.db.models import F, Max

from stores.models import Status, Store


def start_order() -> list[int]:
    """The ids of the queued stores, the next to start first."""
    queued = (
        Store.objects.filter(status=Status.QUEUED)
        .order_by(F("queued_at").asc(nulls_last=True), "pk")
        .values_list("pk", "owner_id")
    )
    lines: dict[int, deque[int]] = {}
    for pk, owner in queued:
        lines.setdefault(owner, deque()).append(pk)
    if not lines:
        return []
    last_served: dict[int, datetime] = dict(
        Store.objects.filter(owner_id__in=lines, started_at__isnull=False)
        .order_by()
        .values("owner_id")
        .annotate(last=Max("started_at"))
        .values_list("owner_id", "last")
    )
    # An owner's turn: (0, arrival) never served, in the order their lines
    # formed; (1, when) by their last start; (2, n) once served in this order.
    # `lines` keeps the order owners first queued, which breaks every tie.
    arrival = {owner: n for n, owner in enumerate(lines)}
    turn: dict[int, tuple[int, float]] = {
        owner: (1, last_served[owner].timestamp()) if owner in last_served else (0, arrival[owner]) for owner in lines
    }
    served = count()
    order: list[int] = []
    while lines:
        owner = min(lines, key=lambda o: (turn[o], arrival[o]))
        order.append(lines[owner].popleft())
        if not lines[owner]:
            del lines[owner]
        turn[owner] = (2, next(served))
    return order


def places() -> dict[int, int]:
    """Each queued store's place in line, 1 for the next to start."""
    return {pk: place for place, pk in enumerate(start_order(), start=1)}


def place_of(store: Store) -> int | None:
    """The store's place in line; None when it is not queued."""
    if store.status != Status.QUEUED:
        return None
    return places().get(store.pk)
