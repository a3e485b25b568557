"""`manage.py stores upgrade|rollback`: the state handling, against the fake cluster."""

import io
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from stores import cluster, lifecycle, releases, tasks
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db

CHARTS = Path(django_settings.BASE_DIR) / "charts"


def _run(*args) -> str:
    out = io.StringIO()
    call_command("stores", *args, stdout=out)
    return out.getvalue()


def _messages(store) -> list[str]:
    return list(StoreEvent.objects.filter(store=store).order_by("pk").values_list("message", flat=True))


@pytest.fixture
def old_charts(tmp_path):
    """The charts, with woocommerce at an older version."""
    charts = tmp_path / "charts"
    shutil.copytree(CHARTS / "woocommerce", charts / "woocommerce")
    meta = yaml.safe_load((charts / "woocommerce" / "Chart.yaml").read_text())
    meta["version"] = "0.0.9"
    (charts / "woocommerce" / "Chart.yaml").write_text(yaml.safe_dump(meta))
    return charts


@pytest.fixture
def current():
    return releases.current_chart_version("woocommerce")


@pytest.fixture
def old_store(alice, workers, settings, old_charts):
    """A ready store provisioned from the older chart; the platform's charts are current again."""
    settings.CHARTS_DIR = old_charts
    with workers():
        store = tasks.request_create(alice, "acme", "woocommerce")
    settings.CHARTS_DIR = CHARTS
    store.refresh_from_db()
    assert store.status == Status.READY
    return store


def test_it_records_the_chart_and_images_a_provision_installs(old_store):
    assert old_store.chart_version == "0.0.9"
    assert "docker.io/library/mariadb:11.8.8" in old_store.images


def test_it_upgrades_a_ready_store_to_the_current_chart(old_store, fake_cluster, current):
    out = _run("upgrade", "acme")

    old_store.refresh_from_db()
    assert old_store.status == Status.READY
    assert old_store.chart_version == current
    assert old_store.lease_token == "" and old_store.deadline_at is None
    messages = _messages(old_store)
    assert f"Upgrade to chart {current} requested." in messages
    assert f"Upgraded: chart 0.0.9 → {current}, revision 2." in messages
    assert f"acme: Upgraded: chart 0.0.9 → {current}, revision 2." in out
    assert fake_cluster.helm.history("store", "store-acme")[-1]["chart"] == f"woocommerce-{current}"


def test_it_replaces_the_setup_job_before_helm_upgrades(old_store, fake_cluster):
    fake_cluster.calls.clear()
    fake_cluster.helm.calls.clear()
    _run("upgrade", "acme")

    assert ("delete_jobs", "store-acme", "app.kubernetes.io/component=setup") in fake_cluster.calls
    assert [c[0] for c in fake_cluster.calls].index("delete_jobs") < [c[0] for c in fake_cluster.calls].index(
        "wait_until_ready"
    )
    assert [c[0] for c in fake_cluster.helm.calls] == ["upgrade_install"]


def test_it_keeps_the_provision_times(old_store):
    ready_at, started_at = old_store.ready_at, old_store.started_at
    _run("upgrade", "acme")

    old_store.refresh_from_db()
    assert (old_store.ready_at, old_store.started_at) == (ready_at, started_at)


def test_it_fails_the_store_with_the_reason_when_the_upgrade_fails(old_store, fake_cluster, current):
    fake_cluster.helm.upgrade_error = cluster.ClusterError("helm upgrade store failed: boom")

    with pytest.raises(CommandError, match=r"acme: failed: upgrade to chart .*: helm upgrade store failed: boom"):
        _run("upgrade", "acme")

    old_store.refresh_from_db()
    assert old_store.status == Status.FAILED
    assert old_store.failure_reason == f"upgrade to chart {current}: helm upgrade store failed: boom"
    assert old_store.chart_version == "0.0.9"  # still what it runs
    assert old_store.lease_token == ""
    event = StoreEvent.objects.filter(store=old_store).last()
    assert event.kind == StoreEvent.Kind.ERROR and event.message.startswith("Update failed: ")


def test_it_fails_the_store_when_its_workloads_do_not_come_up(old_store, fake_cluster):
    fake_cluster.wait_error = cluster.WorkloadFailed("pod store-wordpress-x: ErrImagePull: nope")

    with pytest.raises(CommandError, match="ErrImagePull"):
        _run("upgrade", "acme")

    old_store.refresh_from_db()
    assert old_store.status == Status.FAILED and "ErrImagePull" in old_store.failure_reason


def test_it_refuses_to_upgrade_a_failed_store(old_store, fake_cluster):
    fake_cluster.wait_error = cluster.WorkloadFailed("boom")
    with pytest.raises(CommandError):
        _run("upgrade", "acme")
    events = _messages(old_store)

    with pytest.raises(CommandError, match="cannot upgrade acme: it failed; retry it"):
        _run("upgrade", "acme")
    assert _messages(old_store) == events


def test_it_rolls_back_to_the_previous_revision(old_store, fake_cluster):
    _run("upgrade", "acme")
    out = _run("rollback", "acme")

    old_store.refresh_from_db()
    assert old_store.status == Status.READY
    assert old_store.chart_version == "0.0.9"
    assert "docker.io/library/mariadb:11.8.8" in old_store.images
    assert "Rollback to revision 1 (chart 0.0.9) requested." in _messages(old_store)
    assert "acme: Rolled back to revision 1 (chart 0.0.9), now revision 3." in out
    assert ("rollback", "store", "store-acme", 1) in fake_cluster.helm.calls


def test_it_rolls_back_a_failed_upgrade(old_store, fake_cluster):
    fake_cluster.wait_error = cluster.WorkloadFailed("boom")
    with pytest.raises(CommandError):
        _run("upgrade", "acme")
    fake_cluster.wait_error = None

    _run("rollback", "acme")

    old_store.refresh_from_db()
    assert (old_store.status, old_store.chart_version, old_store.failure_reason) == (Status.READY, "0.0.9", "")


def test_it_refuses_a_rollback_with_no_earlier_revision(old_store):
    events = _messages(old_store)

    with pytest.raises(CommandError, match="cannot roll back acme: its release has no earlier revision"):
        _run("rollback", "acme")

    old_store.refresh_from_db()
    assert old_store.status == Status.READY and _messages(old_store) == events


def test_it_refuses_a_second_update_while_one_runs(old_store):
    token = lifecycle.begin_update(old_store.pk, "Upgrade to chart 9 requested.", only_from={Status.READY})

    for action, verb in (("upgrade", "upgrade"), ("rollback", "roll back")):
        with pytest.raises(CommandError, match=f"cannot {verb} acme: an upgrade or rollback of it is running now"):
            _run(action, "acme")
    old_store.refresh_from_db()
    assert (old_store.status, old_store.lease_token) == (Status.UPDATING, token)


def test_it_refuses_delete_and_retry_while_updating(old_store):
    lifecycle.begin_update(old_store.pk, "Upgrade to chart 9 requested.", only_from={Status.READY})

    with pytest.raises(CommandError, match="acme: an upgrade or rollback is running; delete it once it has ended"):
        _run("delete", "acme")
    with pytest.raises(CommandError, match="acme is updating; only a failed or lost store can be retried"):
        _run("retry", "acme")
    assert Store.objects.get(pk=old_store.pk).status == Status.UPDATING


def test_it_fails_the_store_at_the_deadline(old_store, fake_cluster, settings):
    settings.PROVISION_TIMEOUT = 1
    fake_cluster.wait_forever = True

    with pytest.raises(CommandError, match="timed out while workloads and setup job"):
        _run("upgrade", "acme")
    assert Store.objects.get(pk=old_store.pk).status == Status.FAILED


def test_reconcile_fails_an_update_whose_command_was_killed(old_store):
    lifecycle.begin_update(old_store.pk, "Upgrade to chart 9 requested.", only_from={Status.READY})
    Store.objects.filter(pk=old_store.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    report = tasks.reconcile()

    old_store.refresh_from_db()
    assert report["update_failed"] == [old_store.pk]
    assert old_store.status == Status.FAILED
    assert "stopped reporting" in old_store.failure_reason


def test_reconcile_leaves_a_running_update_alone(old_store):
    lifecycle.begin_update(old_store.pk, "Upgrade to chart 9 requested.", only_from={Status.READY})

    assert tasks.reconcile()["update_failed"] == []
    assert Store.objects.get(pk=old_store.pk).status == Status.UPDATING


def test_a_retry_after_a_chart_change_replaces_the_setup_job(old_store, fake_cluster, workers):
    fake_cluster.wait_error = cluster.WorkloadFailed("boom")
    with pytest.raises(CommandError):
        _run("upgrade", "acme")
    Store.objects.filter(pk=old_store.pk).update(chart_version="0.0.9")  # the upgrade failed before helm ran
    fake_cluster.wait_error = None
    fake_cluster.calls.clear()

    with workers():
        _run("retry", "acme")

    old_store.refresh_from_db()
    assert old_store.status == Status.READY
    assert ("delete_jobs", "store-acme", "app.kubernetes.io/component=setup") in fake_cluster.calls


@pytest.fixture
def upgraded_medusa_store(alice, workers, fake_cluster):
    """A ready Medusa store upgraded once to an image that brings migrations (schemaVersion 1 -> 2)."""
    with workers():
        store = tasks.request_create(alice, "shop", "medusa")
    _run("upgrade", "shop")
    revisions = fake_cluster.helm.revisions[("store-shop", "store")]
    revisions[-1]["values"] = {
        **revisions[-1]["values"],
        "image": {**revisions[-1]["values"]["image"], "schemaVersion": 2},
    }
    return Store.objects.get(pk=store.pk)


def test_it_refuses_a_rollback_to_older_migrations(upgraded_medusa_store, fake_cluster):
    with pytest.raises(CommandError, match=r"image.schemaVersion 1 < 2\), and MedusaJS cannot undo migrations"):
        _run("rollback", "shop")

    upgraded_medusa_store.refresh_from_db()
    assert upgraded_medusa_store.status == Status.READY
    assert not [call for call in fake_cluster.helm.calls if call[0] == "rollback"]


def test_it_rolls_back_across_migrations_when_forced(upgraded_medusa_store, fake_cluster):
    _run("rollback", "shop", "--force")

    assert ("rollback", "store", "store-shop", 1) in fake_cluster.helm.calls
    assert Store.objects.get(pk=upgraded_medusa_store.pk).status == Status.READY
