"""Upgrade and rollback of a store on the local control plane, with real Helm.

A store is provisioned from an older copy of the WooCommerce chart (a lower
version whose setup Job's pod template differs), then `stores upgrade` moves
it to the current chart and `stores rollback` back again. The setup Job's
template is immutable, so each of them only works because the Job is replaced.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import yaml
from django.core.management import CommandError, call_command
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from stores import lifecycle, releases, tasks
from stores.models import Status, Store, StoreEvent
from tests.platform import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

OLD_VERSION = "0.0.9"
MARKER = "SETUP_CHART_GENERATION"


@pytest.fixture
def old_charts(tmp_path):
    """A copy of the charts in which woocommerce is an older version whose setup
    Job's pod template carries one more environment variable."""
    charts = tmp_path / "charts"
    shutil.copytree(REPO_ROOT / "charts", charts)
    chart_yaml = charts / "woocommerce" / "Chart.yaml"
    meta = yaml.safe_load(chart_yaml.read_text())
    meta["version"] = OLD_VERSION
    chart_yaml.write_text(yaml.safe_dump(meta))
    job = charts / "woocommerce" / "templates" / "setup-job.yaml"
    text = job.read_text()
    anchor = "            - name: WP_PATH\n"
    assert anchor in text
    job.write_text(text.replace(anchor, f'            - name: {MARKER}\n              value: "old"\n' + anchor, 1))
    return charts


@pytest.fixture
def batch(local_cluster):
    return k8s.BatchV1Api(k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig)))


@pytest.fixture
def core(local_cluster):
    return k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig)))


def helm_json(local_cluster, *args) -> list | dict:
    out = subprocess.run(
        [str(local_cluster.helm), *args, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={"KUBECONFIG": str(local_cluster.kubeconfig), "HOME": "/tmp"},
    )
    return json.loads(out.stdout or "[]")


def setup_job(batch, namespace):
    (job,) = batch.list_namespaced_job(namespace, label_selector="app.kubernetes.io/component=setup").items
    env = {e.name: e.value for e in job.spec.template.spec.containers[0].env}
    return job, env


def provision_here(owner, slug: str) -> Store:
    store = lifecycle.create_store(owner, slug, "woocommerce")
    assert store.pk in lifecycle.claim_provision_slots()
    tasks.provision(store.pk)
    store.refresh_from_db()
    return store


def test_it_upgrades_rolls_back_and_deletes_a_store(
    alice, store_settings, old_charts, batch, core, local_cluster, cleanup
):
    current = releases.chart_version(REPO_ROOT / "charts" / "woocommerce")
    assert current and current != OLD_VERSION
    store_settings.CHARTS_DIR = old_charts
    store = provision_here(alice, "upg-shop")
    assert store.status == Status.READY, store.failure_reason
    assert store.chart_version == OLD_VERSION
    assert "docker.io/library/mariadb:11.8.8" in store.images
    old_job, env = setup_job(batch, store.namespace)
    assert env[MARKER] == "old"

    # The platform's charts are the current ones again: the store runs an older chart.
    store_settings.CHARTS_DIR = REPO_ROOT / "charts"
    call_command("stores", "upgrade", "upg-shop")

    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    assert store.chart_version == current
    history = helm_json(local_cluster, "history", "store", "-n", store.namespace)
    assert [(h["revision"], h["chart"], h["status"]) for h in history] == [
        (1, f"woocommerce-{OLD_VERSION}", "superseded"),
        (2, f"woocommerce-{current}", "deployed"),
    ]
    new_job, env = setup_job(batch, store.namespace)
    assert MARKER not in env and new_job.metadata.uid != old_job.metadata.uid
    assert new_job.status.succeeded == 1
    messages = list(store.events.values_list("message", flat=True))
    assert f"Upgrade to chart {current} requested." in messages
    assert f"Upgraded: chart {OLD_VERSION} → {current}, revision 2." in messages

    call_command("stores", "rollback", "upg-shop")

    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    assert store.chart_version == OLD_VERSION
    history = helm_json(local_cluster, "history", "store", "-n", store.namespace)
    assert (history[-1]["revision"], history[-1]["chart"], history[-1]["status"]) == (
        3,
        f"woocommerce-{OLD_VERSION}",
        "deployed",
    )
    job, env = setup_job(batch, store.namespace)
    assert env[MARKER] == "old" and job.status.succeeded == 1
    assert f"Rolled back to revision 1 (chart {OLD_VERSION}), now revision 3." in store.events.values_list(
        "message", flat=True
    )
    assert "docker.io/library/mariadb:11.8.8" in store.images

    call_command("stores", "delete", "upg-shop")
    tasks.delete(store.pk)
    store.refresh_from_db()
    assert store.status == Status.DELETED, store.failure_reason
    assert helm_json(local_cluster, "list", "-a", "-n", store.namespace) == []
    assert not [ns for ns in core.list_namespace().items if ns.metadata.name == store.namespace]


def test_it_is_the_new_setup_job_that_makes_an_upgrade_possible(
    alice, store_settings, old_charts, local_cluster, cleanup
):
    """Without replacing the Job, Helm refuses the new chart: the change really touches the Job."""
    store_settings.CHARTS_DIR = old_charts
    store = provision_here(alice, "upg-immutable")
    assert store.status == Status.READY, store.failure_reason
    plain = subprocess.run(
        [
            str(local_cluster.helm),
            "upgrade",
            "store",
            str(REPO_ROOT / "charts" / "woocommerce"),
            "-n",
            store.namespace,
            "--reuse-values",
        ],
        capture_output=True,
        text=True,
        env={"KUBECONFIG": str(local_cluster.kubeconfig), "HOME": "/tmp"},
    )
    assert plain.returncode != 0 and "field is immutable" in plain.stderr


@pytest.mark.parametrize("status", [Status.QUEUED, Status.PROVISIONING, Status.DELETING, Status.UPDATING])
@pytest.mark.parametrize("action", ["upgrade", "rollback"])
def test_it_refuses_a_busy_store(alice, store_settings, local_cluster, status, action):
    store = lifecycle.create_store(alice, f"upg-busy-{action}", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=status, chart_version="0.0.1")
    before = list(StoreEvent.objects.filter(store=store).values_list("pk", flat=True))

    with pytest.raises(CommandError, match=f"cannot {'roll back' if action == 'rollback' else action} upg-busy"):
        call_command("stores", action, store.slug)

    store.refresh_from_db()
    assert (store.status, store.chart_version) == (status, "0.0.1")
    assert list(StoreEvent.objects.filter(store=store).values_list("pk", flat=True)) == before
