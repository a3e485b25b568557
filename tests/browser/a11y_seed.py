"""The users and stores the accessibility checks look at (tests/browser/test_accessibility.py).

A module of its own, not part of the test module: `seed` runs in a
`manage.py shell` with the web server's settings, which imports it from here.
"""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import Profile
from stores import lifecycle, tasks
from stores.models import Health, Status, Store, StoreCheck, StoreEvent

PASSWORD = "a-long-pass-phrase-9"
# Unique on the shared cluster: namespaces are store-<slug>.
READY, QUEUED, FAILED, BUSY = "a11y-ready-shop", "a11y-queued-shop", "a11y-failed-shop", "a11y-busy-shop"
LOST = "a11y-lost-shop"


def seed() -> dict:
    """The users and stores the pages show; run inside the web server's own settings (the `site` fixture)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    owner = users.create_user("ada", "ada@example.org", PASSWORD)
    newcomer = users.create_user("newcomer", "newcomer@example.org", PASSWORD)
    Profile.objects.update_or_create(user=owner, defaults={"store_limit": 6})

    # Provisioned for real, in this process, so its secret exists to be read.
    ready = lifecycle.create_store(owner, READY, "woocommerce")
    lifecycle.claim_provision_slots()
    tasks.provision(ready.pk)
    assert Store.objects.get(pk=ready.pk).status == Status.READY
    # What a day of checks found: 3 of 4 answered, then two failures made it down.
    now = timezone.now()
    for minutes, ok, ms in [(20, True, 120), (15, True, 180), (10, True, 240), (5, False, 5000)]:
        StoreCheck.objects.create(
            store=ready, kind="storefront", ok=ok, latency_ms=ms, checked_at=now - timedelta(minutes=minutes)
        )
    Store.objects.filter(pk=ready.pk).update(
        health=Health.DOWN,
        health_failures=2,
        checkout_verified_at=now - timedelta(hours=3),
        checkout_unverified_reason="",
    )

    # The others stay rows: no worker runs to claim them.
    busy = lifecycle.create_store(owner, BUSY, "woocommerce")
    Store.objects.filter(pk=busy.pk).update(
        status=Status.PROVISIONING, step="release", started_at=timezone.now() - timedelta(minutes=1, seconds=12)
    )
    queued = lifecycle.create_store(owner, QUEUED, "medusa")
    failed = lifecycle.create_store(owner, FAILED, "woocommerce")
    reason = 'pods "mariadb-0" is forbidden: exceeded quota: store-quota, requested: requests.memory=4Gi'
    Store.objects.filter(pk=failed.pk).update(status=Status.FAILED, step="workloads", failure_reason=reason)
    lifecycle.record(failed.pk, f"Provisioning failed: {reason}", kind=StoreEvent.Kind.ERROR, step="workloads")
    lost = lifecycle.create_store(owner, LOST, "medusa")
    gone = "its namespace store-a11y-lost-shop is gone (removed outside the platform, or a new cluster)"
    Store.objects.filter(pk=lost.pk).update(status=Status.LOST, step="checkout", failure_reason=gone)
    lifecycle.record(lost.pk, f"Lost: {gone}.", kind=StoreEvent.Kind.ERROR)
    return {
        "owner": _session(owner),
        "newcomer": _session(newcomer),
        "stores": {s.slug: s.pk for s in (ready, queued, failed, busy, lost)},
    }


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value
