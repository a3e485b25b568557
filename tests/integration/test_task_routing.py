"""Which task queue runs which task, with real `qcluster` processes of both clusters.

A provision started from the control queue (by a delete that frees a slot,
or by reconcile) must still run on the provision queue: django-q2 records
the cluster that ran each task on its Task row.
"""

from __future__ import annotations

import pytest
import yaml
from django.conf import settings
from django.db import connection
from django_q.models import Task
from django_q.tasks import async_task

from stores import lifecycle, tasks
from stores.models import FINAL, Status, Store
from tests.platform import Platform
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SIMULATE = "localcluster.store-provisioner.io/simulate"


@pytest.fixture
def platform(local_cluster, store_settings, tmp_path):
    procs = []

    def start(lease_seconds: int | None = None, **values):
        env = {"KUBECONFIG": str(local_cluster.kubeconfig), "HELM_BIN": str(local_cluster.helm)}
        if lease_seconds:
            env["PROVISION_LEASE_SECONDS"] = str(lease_seconds)
        if values:
            path = tmp_path / "values.yaml"
            path.write_text(yaml.safe_dump(values))
            env["STORE_VALUES_FILES"] = str(path)
        p = Platform(connection.settings_dict, **env)
        procs.append(p)
        p.start_workers()
        return p

    yield start
    for p in procs:
        p.stop()


def _status(store) -> tuple[str, str]:
    return tuple(Store.objects.filter(pk=store.pk).values_list("status", "step").get())


def _ran_on(name: str) -> str:
    task = wait_for(lambda: Task.objects.filter(name=name).first(), timeout=60, what=f"the result of {name}")
    assert task.success, task.result
    return task.cluster


def test_it_runs_a_provision_freed_by_a_delete_on_the_provision_cluster(
    alice, bob, django_user_model, platform, store_settings, cleanup
):
    # Stores that never become ready keep both slots taken until they are deleted.
    store_settings.PROVISION_LEASE_SECONDS = 5
    workers = platform(podAnnotations={SIMULATE: "never-ready"}, lease_seconds=5)
    carol = django_user_model.objects.create_user("carol")
    first = tasks.request_create(alice, "route-first", "woocommerce")
    second = tasks.request_create(bob, "route-second", "woocommerce")
    third = tasks.request_create(carol, "route-third", "woocommerce")
    for store in (first, second):
        wait_for(
            lambda s=store: _status(s) == (Status.PROVISIONING, "workloads"),
            timeout=120,
            what=f"{store.slug} waiting for its workloads",
        )
    assert _status(third) == (Status.QUEUED, "")

    # With its provision gone (a crash), the delete task on the control
    # cluster is what frees the first store's slot and starts the third store.
    workers.kill("provision-workers")
    tasks.request_delete(first.pk)
    wait_for(lambda: _status(first)[0] == Status.DELETED, timeout=120, what="the first store's delete")
    # The delete task claims the freed slot right after it commits the delete
    # (tasks._run_with_lease), in a transaction of its own: a moment later.
    wait_for(
        lambda: _status(third)[0] == Status.PROVISIONING, timeout=30, what="the freed slot to go to the third store"
    )
    workers.restart_provision_workers()
    wait_for(
        lambda: _status(third) == (Status.PROVISIONING, "workloads"),
        timeout=120,
        what="the third store's provision to run",
    )
    for store in (second, third):
        tasks.request_delete(store.pk)
    wait_for(lambda: Store.objects.filter(status=Status.DELETED).count() == 3, timeout=180, what="the deletes")

    assert _ran_on(f"delete-store-{first.pk}") == settings.CONTROL_QUEUE
    assert _ran_on(f"provision-store-{third.pk}") == settings.PROVISION_QUEUE


def test_it_runs_a_store_started_by_reconcile_on_the_provision_cluster(alice, platform, cleanup):
    platform()
    store = lifecycle.create_store(alice, "route-reconciled", "woocommerce")  # queued, never enqueued

    async_task("stores.tasks.reconcile", cluster=settings.CONTROL_QUEUE, task_name="reconcile-now")
    wait_for(lambda: _status(store)[0] in FINAL, timeout=120, what="the store to be provisioned")

    assert _status(store)[0] == Status.READY
    assert _ran_on("reconcile-now") == settings.CONTROL_QUEUE
    assert _ran_on(f"provision-store-{store.pk}") == settings.PROVISION_QUEUE
