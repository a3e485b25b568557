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
from stores.models import Status, Store, StoreEvent

PASSWORD = "a-long-pass-phrase-9"
# Unique on the shared cluster: namespaces are store-<slug>.
READY, QUEUED, FAILED, BUSY = "a11y-ready-shop", "a11y-queued-shop", "a11y-failed-shop", "a11y-busy-shop"


def seed() -> dict:
    """The users and stores the pages show; run inside the web server's own settings (the `site` fixture)."""
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    owner = users.create_user("ada", "ada@example.org", PASSWORD)
    newcomer = users.create_user("newcomer", "newcomer@example.org", PASSWORD)
    Profile.objects.update_or_create(user=owner, defaults={"store_limit": 5})

    # Provisioned for real, in this process, so its secret exists to be read.
    ready = lifecycle.create_store(owner, READY, "woocommerce")
    lifecycle.claim_provision_slots()
    tasks.provision(ready.pk)
    assert Store.objects.get(pk=ready.pk).status == Status.READY

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
    return {
        "owner": _session(owner),
        "newcomer": _session(newcomer),
        "stores": {s.slug: s.pk for s in (ready, queued, failed, busy)},
    }


def _session(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value
