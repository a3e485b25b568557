"""Emails, JSON logs and /metrics with real workers, a real web server and the local cluster.

The unit tests run the mail task in-process; here the provision runs in a
real provision `qcluster`, the owner's mail is sent by the control `qcluster`
(console backend: it lands in that process's output), and /metrics is read
from a separate web process: every figure comes from the shared database.
"""

from __future__ import annotations

import json
import urllib.request

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from stores import tasks
from stores.models import Status, Store
from tests.platform import LOG_DIR, Platform
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOKEN = "integration-metrics-token"


def _log_since(name: str, offset: int) -> str:
    path = LOG_DIR / f"{name}.log"
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def _log_size(name: str) -> int:
    path = LOG_DIR / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


@pytest.fixture
def platform(local_cluster, store_settings):
    p = Platform(
        connection.settings_dict,
        KUBECONFIG=str(local_cluster.kubeconfig),
        HELM_BIN=str(local_cluster.helm),
        LOG_FORMAT="json",
        METRICS_TOKEN=TOKEN,
        SITE_URL="https://provisioner.example.com",
    )
    yield p
    p.stop()


@pytest.mark.timeout(300)
def test_it_mails_logs_and_counts_a_store_provisioned_by_real_workers(alice, platform, cleanup):
    offsets = {name: _log_size(name) for name in ("provision-workers", "control-workers")}
    platform.start_workers()
    web = platform.start_web()

    store = tasks.request_create(alice, "ops-notify-shop", "woocommerce")
    wait_for(
        lambda: Store.objects.get(pk=store.pk).status in (Status.READY, Status.FAILED),
        timeout=180,
        what="the store to be provisioned",
    )
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason

    # The control queue sent the mail (the console backend prints it; a
    # message ends with a line of dashes). The one for this store is the
    # message that links to its page.
    link = f"https://provisioner.example.com/stores/{store.pk}/"

    def mailed():
        text = _log_since("control-workers", offsets["control-workers"])
        return next((m for m in text.split("-" * 79) if link in m), None)

    mail = wait_for(mailed, timeout=60, what="the owner's mail")
    assert "Subject: Your store ops-notify-shop is ready" in mail
    assert "To: alice@example.org" in mail

    # The provision worker's lines are JSON, tagged with the store and the step.
    tagged = []
    for line in _log_since("provision-workers", offsets["provision-workers"]).splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("store_id") == store.pk:
            tagged.append(record)
    assert [r["step"] for r in tagged if r["logger"] == "stores.provisioning"] == [
        "namespace",
        "guardrails",
        "credentials",
        "release",
        "workloads",
    ]
    assert {r["store_slug"] for r in tagged} == {"ops-notify-shop"}

    # A scrape of the web process counts it.
    request = urllib.request.Request(f"{web}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        body = response.read().decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }
    assert samples[("store_provisioner_stores", frozenset({("status", "ready"), ("engine", "woocommerce")}))] == 1
    assert samples[("store_provisioner_provision_duration_seconds_count", frozenset({("engine", "woocommerce")}))] == 1
