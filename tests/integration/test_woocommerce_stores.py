"""WooCommerce stores end to end on the local control plane, with real Helm.

Provisions here run the product's own code: either in this process (the
task body, `tasks.provision`) or in real `manage.py qcluster` workers. Only
the containers are simulated (kwok); the storefront URL check is off because
simulated pods serve no HTTP.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
import yaml
from django.db import connection
from django.utils import timezone
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException

from stores import lifecycle, tasks
from stores.models import Status, Store, StoreEvent
from tests.platform import REPO_ROOT, Platform, delete_stores
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SIMULATE = "localcluster.store-provisioner.io/simulate"


@pytest.fixture
def api(local_cluster):
    return k8s_config.new_client_from_config(config_file=str(local_cluster.kubeconfig))


@pytest.fixture
def core(api):
    return k8s.CoreV1Api(api)


@pytest.fixture
def values_file(tmp_path):
    def write(data: dict) -> str:
        path = tmp_path / f"values-{len(list(tmp_path.iterdir()))}.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)

    return write


def helm_releases(local_cluster, namespace: str) -> list[dict]:
    out = subprocess.run(
        [str(local_cluster.helm), "list", "-a", "-n", namespace, "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={"KUBECONFIG": str(local_cluster.kubeconfig), "HOME": "/tmp"},
    )
    return json.loads(out.stdout or "[]")


def namespace_exists(core, name: str) -> bool:
    try:
        core.read_namespace(name)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise


def provision_here(owner, slug: str) -> Store:
    """Create a store and run its provision task body in this process."""
    store = lifecycle.create_store(owner, slug, "woocommerce")
    assert store.pk in lifecycle.claim_provision_slots()
    tasks.provision(store.pk)
    store.refresh_from_db()
    return store


def test_it_takes_a_store_from_create_to_ready(alice, api, core, local_cluster, cleanup):
    store = provision_here(alice, "ready-shop")
    assert store.status == Status.READY, store.failure_reason
    ns = "store-ready-shop"

    labels = core.read_namespace(ns).metadata.labels
    assert labels["store-provisioner.io/store-id"] == str(store.pk)
    assert labels["store-provisioner.io/owner"] == str(alice.pk)
    assert labels["store-provisioner.io/engine"] == "woocommerce"
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/audit"] == "restricted"

    quota = core.read_namespaced_resource_quota("store-quota", ns).spec.hard
    assert {"requests.cpu", "limits.memory", "pods", "persistentvolumeclaims", "requests.storage"} <= set(quota)
    assert quota["services.loadbalancers"] == "0" and quota["services.nodeports"] == "0"
    assert core.read_namespaced_limit_range("store-limits", ns).spec.limits[0].default
    policies = {p.metadata.name for p in k8s.NetworkingV1Api(api).list_namespaced_network_policy(ns).items}
    assert policies == {
        "default-deny",
        "allow-dns",
        "allow-ingress-controller",
        "allow-internet-egress",
        "store-mariadb",
        "store-wordpress",
        "store-setup",
        "store-cron",
    }
    assert set(core.read_namespaced_secret("store-secret", ns).data) >= {"admin-user", "admin-password"}

    (release,) = helm_releases(local_cluster, ns)
    assert (release["name"], release["status"]) == ("store", "deployed")
    apps = k8s.AppsV1Api(api)
    for deploy in apps.list_namespaced_deployment(ns).items:
        assert deploy.status.available_replicas == deploy.spec.replicas
    for sts in apps.list_namespaced_stateful_set(ns).items:
        assert sts.status.ready_replicas == sts.spec.replicas
    jobs = k8s.BatchV1Api(api).list_namespaced_job(ns, label_selector="app.kubernetes.io/component=setup").items
    assert len(jobs) == 1 and jobs[0].status.succeeded == 1
    (cron,) = k8s.BatchV1Api(api).list_namespaced_cron_job(ns).items
    assert (cron.metadata.name, cron.spec.schedule) == ("store-cron", "*/5 * * * *")
    # WordPress and the setup pod share a node (their volume is ReadWriteOnce), and
    # the scheduler never refused one for want of the other. (This cluster's
    # Immediate-binding volumes may briefly hold a pod back for an unbound claim.)
    nodes = {
        pod.metadata.labels["app.kubernetes.io/component"]: pod.spec.node_name
        for pod in core.list_namespaced_pod(ns, label_selector="app.kubernetes.io/component in (wordpress,setup)").items
    }
    assert set(nodes) == {"wordpress", "setup"} and nodes["wordpress"] == nodes["setup"], nodes
    warnings = [
        f"{e.involved_object.kind}/{e.involved_object.name}: {e.reason}: {e.message}"
        for e in core.list_namespaced_event(ns).items
        if e.type == "Warning" and e.reason == "FailedScheduling" and "affinity" in (e.message or "")
    ]
    assert not warnings, warnings
    (ingress,) = k8s.NetworkingV1Api(api).list_namespaced_ingress(ns).items
    assert ingress.spec.rules[0].host == "store-ready-shop.127.0.0.1.nip.io"
    assert ingress.spec.ingress_class_name == "nginx"

    steps = StoreEvent.objects.filter(store=store, kind="step")
    assert [e.step for e in steps] == ["namespace", "guardrails", "credentials", "release", "workloads"]
    assert all(e.duration_ms is not None for e in steps)


@pytest.mark.parametrize(
    "slug,values,reason",
    [
        ("pull-error", {"wordpress": {"image": {"repository": "unpullable.invalid/wordpress"}}}, "ErrImagePull"),
        ("job-fails", {"setup": {"backoffLimit": 0, "podAnnotations": {SIMULATE: "fail"}}}, "failed"),
        (
            "over-quota",
            # Within the per-container maximum, over the namespace's requests.cpu=2 in total.
            {"wordpress": {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}}},
            "exceeded quota",
        ),
    ],
)
def test_it_fails_with_the_true_reason(alice, store_settings, values_file, cleanup, slug, values, reason):
    store_settings.STORE_VALUES_FILES = [values_file(values)]
    store = provision_here(alice, slug)
    assert store.status == Status.FAILED
    assert reason in store.failure_reason
    assert store.step == "workloads"
    if slug == "job-fails":
        assert "job" in store.failure_reason


def test_it_fails_at_the_deadline(alice, store_settings, values_file, cleanup):
    store_settings.PROVISION_TIMEOUT = 6
    store_settings.STORE_VALUES_FILES = [values_file({"podAnnotations": {SIMULATE: "never-ready"}})]
    started = time.monotonic()
    store = provision_here(alice, "too-slow")
    assert store.status == Status.FAILED
    assert store.failure_reason == "timed out while workloads and setup job"
    assert time.monotonic() - started < 60


def test_it_retries_a_failed_store_to_ready(alice, store_settings, values_file, cleanup, local_cluster):
    store_settings.STORE_VALUES_FILES = [
        values_file({"setup": {"backoffLimit": 0, "podAnnotations": {SIMULATE: "fail"}}})
    ]
    store = provision_here(alice, "second-try")
    assert store.status == Status.FAILED
    store_settings.STORE_VALUES_FILES = []
    lifecycle.request_retry(store.pk)
    assert lifecycle.claim_provision_slots() == [store.pk]
    tasks.provision(store.pk)
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    assert [str(r["revision"]) for r in helm_releases(local_cluster, store.namespace)] == ["2"]


def _assert_deleted(store, core, local_cluster):
    store.refresh_from_db()
    assert store.status == Status.DELETED, store.failure_reason
    assert not namespace_exists(core, store.namespace)
    assert helm_releases(local_cluster, store.namespace) == []


def test_it_deletes_ready_failed_and_half_provisioned_stores(
    alice, core, local_cluster, store_settings, values_file, cleanup
):
    ready = provision_here(alice, "del-ready")
    assert ready.status == Status.READY

    store_settings.STORE_VALUES_FILES = [values_file({"wordpress": {"image": {"repository": "unpullable.invalid/wp"}}})]
    failed = provision_here(alice, "del-failed")
    assert failed.status == Status.FAILED

    # Half-provisioned: the provision is waiting for pods that never get ready
    # when the owner deletes the store; the provision notices and stops.
    store_settings.STORE_VALUES_FILES = [values_file({"podAnnotations": {SIMULATE: "never-ready"}})]
    half = lifecycle.create_store(alice, "del-half", "woocommerce")
    assert lifecycle.claim_provision_slots() == [half.pk]
    worker = threading.Thread(target=lambda: (tasks.provision(half.pk), connection.close()))
    worker.start()
    wait_for(lambda: Store.objects.get(pk=half.pk).step == "workloads", timeout=60, what="the workloads step")
    assert alice.stores.live().count() == 3

    # All three at once, each delete task in a thread of its own.
    delete_stores([ready.pk, failed.pk, half.pk])
    for store in (ready, failed, half):
        _assert_deleted(store, core, local_cluster)
    worker.join(30)
    assert not worker.is_alive()
    assert StoreEvent.objects.filter(store=half, message__contains="cancelled").exists()
    assert Store.objects.get(pk=half.pk).status == Status.DELETED
    # The owner's slots are free again.
    assert alice.stores.live().count() == 0
    assert lifecycle.create_store(alice, "del-ready", "woocommerce").status == Status.QUEUED


@pytest.fixture
def platform(local_cluster, store_settings):
    procs = []

    def start(**env):
        p = Platform(
            connection.settings_dict, KUBECONFIG=str(local_cluster.kubeconfig), HELM_BIN=str(local_cluster.helm), **env
        )
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()


# Its own wait allows 300 s; the five stores' deletes afterwards run at once (about 8 s).
@pytest.mark.timeout(480)
def test_five_stores_at_once_never_more_than_two_provisioning(alice, bob, django_user_model, platform, cleanup):
    workers = platform()
    workers.start_workers()
    carol = django_user_model.objects.create_user("carol")
    owners = [alice, alice, alice, bob, carol]
    stores = [tasks.request_create(owner, f"rush-{i}", "woocommerce") for i, owner in enumerate(owners)]
    ids = [s.pk for s in stores]

    peak = 0

    def all_finished() -> bool:
        nonlocal peak
        counts = dict.fromkeys(Status.values, 0)
        for status in Store.objects.filter(pk__in=ids).values_list("status", flat=True):
            counts[status] += 1
        peak = max(peak, counts[Status.PROVISIONING])
        assert counts[Status.PROVISIONING] <= 2  # looked at every 0.1 s while they provision
        return counts[Status.READY] + counts[Status.FAILED] == len(ids)

    wait_for(all_finished, timeout=300, interval=0.1, what="every store to be ready or failed")
    statuses = dict(Store.objects.filter(pk__in=ids).values_list("slug", "status"))
    assert set(statuses.values()) == {Status.READY}, statuses
    assert peak == 2


# Its waits allow 330 s in all: they, not the default timeout, should say what never happened.
@pytest.mark.timeout(480)
def test_a_killed_worker_is_resumed_to_ready(alice, core, local_cluster, platform, values_file, cleanup):
    slow = values_file({"podAnnotations": {SIMULATE: "slow-ready"}})
    workers = platform(PROVISION_LEASE_SECONDS="5", STORE_VALUES_FILES=slow)
    workers.start_workers()
    store = tasks.request_create(alice, "crash-test", "woocommerce")
    wait_for(lambda: Store.objects.get(pk=store.pk).step == "workloads", timeout=120, what="the workloads step")

    workers.kill("provision-workers")  # SIGKILL to the whole qcluster: sentinel and workers
    store.refresh_from_db()
    assert store.status == Status.PROVISIONING
    wait_for(
        lambda: lifecycle.stale_leases(Status.PROVISIONING).filter(pk=store.pk).exists(),
        timeout=30,
        what="the dead worker's lease to run out",
    )
    # What the scheduled reconcile does every minute (here before the restart:
    # restarted workers ask for a reconcile of their own, which might come first).
    report = tasks.reconcile()
    assert report["resumed"] == [store.pk]
    workers.restart_provision_workers()

    wait_for(lambda: Store.objects.get(pk=store.pk).status != Status.PROVISIONING, timeout=180, what="the resume")
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    managed = core.list_namespace(label_selector=f"store-provisioner.io/store-id={store.pk}").items
    assert [ns.metadata.name for ns in managed] == ["store-crash-test"]
    assert [r["name"] for r in helm_releases(local_cluster, "store-crash-test")] == ["store"]
    assert StoreEvent.objects.filter(store=store, message__contains="resuming").exists()


# Its waits allow 360 s in all: they, not the default timeout, should say what never happened.
@pytest.mark.timeout(480)
def test_every_worker_killed_mid_provision_resumes_it_at_once_when_restarted(
    alice, core, local_cluster, platform, values_file, cleanup
):
    """SIGKILL to both queues' workers mid-provision, then a restart, as after a
    host's crash: the restarted workers see that the lease's holder is gone (same
    host, its process no longer there) and resume the store long before the lease
    (the default 60 s) would have run out."""
    from django_q.models import Schedule

    # The migration's reconcile schedule, as in production (a transactional
    # test before this one may have flushed it).
    Schedule.objects.update_or_create(
        name="reconcile stores",
        defaults={"func": "stores.tasks.reconcile", "schedule_type": "I", "minutes": 1, "repeats": -1},
        create_defaults={
            "func": "stores.tasks.reconcile",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
            "cluster": "control",
        },
    )
    slow = values_file({"podAnnotations": {SIMULATE: "slow-ready"}})
    workers = platform(STORE_VALUES_FILES=slow)
    workers.start_workers()
    store = tasks.request_create(alice, "restart-test", "woocommerce")
    wait_for(lambda: Store.objects.get(pk=store.pk).step == "workloads", timeout=120, what="the workloads step")

    workers.kill("provision-workers")
    workers.kill("control-workers")
    killed = Store.objects.get(pk=store.pk)
    assert killed.status == Status.PROVISIONING and killed.lease_token
    restarted = time.monotonic()
    workers.start_workers()

    def resumed() -> bool:
        row = Store.objects.filter(pk=store.pk).values("status", "lease_token").get()
        return row["status"] != Status.PROVISIONING or row["lease_token"] not in ("", killed.lease_token)

    wait_for(resumed, timeout=180, interval=0.1, what="the restarted workers to resume the store")
    elapsed = time.monotonic() - restarted
    resumed_at = timezone.now()
    print(
        f"\nresumed {elapsed:.1f} s after the restart; "
        f"the killed worker's lease had {(killed.lease_until - resumed_at).total_seconds():.1f} s left"
    )
    # Before the lease ran out: the take-over, not the lease's expiry, resumed it.
    assert resumed_at < killed.lease_until, f"resumed {elapsed:.1f} s after the restart, after the lease ran out"
    assert elapsed < 30

    wait_for(lambda: Store.objects.get(pk=store.pk).status != Status.PROVISIONING, timeout=180, what="the resume")
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    managed = core.list_namespace(label_selector=f"store-provisioner.io/store-id={store.pk}").items
    assert [ns.metadata.name for ns in managed] == ["store-restart-test"]
    assert [r["name"] for r in helm_releases(local_cluster, "store-restart-test")] == ["store"]
    assert StoreEvent.objects.filter(store=store, message__contains="resuming").exists()


def test_reconcile_reports_and_prunes_what_belongs_to_no_live_store(
    alice, core, local_cluster, store_settings, settings, cleanup
):
    from io import StringIO

    from django.core.management import call_command

    live = provision_here(alice, "still-here")
    assert live.status == Status.READY
    # A namespace and release left behind by a store whose row is gone.
    core.create_namespace(
        {
            "metadata": {
                "name": "store-ghost",
                "labels": {
                    "app.kubernetes.io/managed-by": "store-provisioner",
                    "store-provisioner.io/store-id": "999999",
                },
            }
        }
    )
    subprocess.run(
        [
            str(local_cluster.helm),
            "install",
            "store",
            str(REPO_ROOT / "tests/integration/charts/tiny"),
            "-n",
            "store-ghost",
        ],
        check=True,
        capture_output=True,
        env={"KUBECONFIG": str(local_cluster.kubeconfig), "HOME": "/tmp"},
    )

    # Younger than the grace period (dated by the API server and by helm): never pruned.
    settings.ORPHAN_GRACE_SECONDS = 600
    out = StringIO()
    call_command("stores", "reconcile", "--prune", stdout=out)
    assert "not yet an orphan (younger than 600 s): store-ghost\n" in out.getvalue()
    assert "not yet an orphan (younger than 600 s): store-ghost/store\n" in out.getvalue()
    # (Older orphans elsewhere on the cluster may be pruned; these two must not be.)
    assert namespace_exists(core, "store-ghost")
    assert [r["name"] for r in helm_releases(local_cluster, "store-ghost")] == ["store"]

    settings.ORPHAN_GRACE_SECONDS = 0
    out = StringIO()
    call_command("stores", "reconcile", stdout=out)
    assert "orphaned namespace: store-ghost" in out.getvalue()
    assert "orphaned release: store-ghost/store" in out.getvalue()
    assert "still-here" not in out.getvalue()
    assert namespace_exists(core, "store-ghost")

    out = StringIO()
    call_command("stores", "reconcile", "--prune", stdout=out)
    assert "pruned" in out.getvalue()
    assert not namespace_exists(core, "store-ghost")
    assert namespace_exists(core, "store-still-here")
