"""The provisioning and deletion steps, with the cluster faked at its boundary."""

from datetime import timedelta

import pytest
from django.utils import timezone

from stores import clients, cluster, isolation, lifecycle, queue, tasks
from stores.models import Status, Store, StoreEvent


@pytest.fixture
def claimed_store(alice):
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    return store


def _run(store):
    tasks.provision(store.pk)
    store.refresh_from_db()
    return store


@pytest.mark.django_db
def test_it_runs_every_step_and_ends_ready(fake_cluster, claimed_store, settings):
    settings.CHECK_STORE_URL = False
    store = _run(claimed_store)
    assert store.status == Status.READY
    assert store.lease_token == "" and store.ready_at is not None
    steps = list(StoreEvent.objects.filter(store=store, kind="step").values_list("step", flat=True))
    assert steps == ["namespace", "guardrails", "credentials", "release", "workloads"]
    assert all(e.duration_ms is not None for e in StoreEvent.objects.filter(store=store, kind="step"))
    assert "skipped" in StoreEvent.objects.get(store=store, step="storefront").message
    labels = fake_cluster.namespaces["store-acme"]
    assert labels["store-provisioner.io/store-id"] == str(store.pk)
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert labels["pod-security.kubernetes.io/warn"] == "restricted"
    ((_, release, namespace, values),) = [c for c in fake_cluster.helm.calls if c[0] == "upgrade_install"]
    assert (release, namespace) == ("store", "store-acme")
    assert values["store"]["host"] == "store-acme.127.0.0.1.nip.io"
    assert values["ingress"]["className"] == "nginx"


@pytest.mark.django_db
def test_it_never_writes_credentials_to_the_database(fake_cluster, claimed_store, settings):
    settings.CHECK_STORE_URL = False
    _run(claimed_store)
    secret = fake_cluster.secrets[("store-acme", "store-secret")]
    assert len(secret["admin-password"]) >= 20
    for message in StoreEvent.objects.values_list("message", flat=True):
        assert secret["admin-password"] not in message
        assert secret["db-password"] not in message


@pytest.mark.django_db
def test_it_keeps_the_credentials_of_an_earlier_attempt(fake_cluster, claimed_store, settings):
    settings.CHECK_STORE_URL = False
    fake_cluster.secrets[("store-acme", "store-secret")] = {"admin-password": "from-first-attempt"}
    _run(claimed_store)
    assert fake_cluster.secrets[("store-acme", "store-secret")]["admin-password"] == "from-first-attempt"


@pytest.mark.django_db
def test_it_fails_with_the_workload_reason(fake_cluster, claimed_store):
    fake_cluster.wait_error = cluster.WorkloadFailed("pod store-wordpress-x: ErrImagePull: not found")
    store = _run(claimed_store)
    assert store.status == Status.FAILED
    assert store.failure_reason == "pod store-wordpress-x: ErrImagePull: not found"
    assert store.step == "workloads"
    assert StoreEvent.objects.filter(store=store, kind="error", message__contains="ErrImagePull").exists()


@pytest.mark.django_db
def test_it_fails_clearly_when_the_cluster_is_unreachable(fake_cluster, claimed_store):
    fake_cluster.unreachable = True
    store = _run(claimed_store)
    assert store.status == Status.FAILED
    assert "cannot reach the Kubernetes API server" in store.failure_reason


@pytest.mark.django_db
def test_it_times_out_while_waiting(fake_cluster, claimed_store):
    Store.objects.filter(pk=claimed_store.pk).update(deadline_at=timezone.now() + timedelta(seconds=1))
    fake_cluster.wait_forever = True
    store = _run(claimed_store)
    assert store.status == Status.FAILED
    assert store.failure_reason == "timed out while workloads and setup job"


@pytest.mark.django_db
def test_it_stops_when_the_store_is_deleted_meanwhile(fake_cluster, claimed_store, monkeypatch):
    fake_cluster.wait_forever = True
    original = fake_cluster.wait_until_ready

    def delete_then_wait(namespace, **kwargs):
        lifecycle.request_delete(claimed_store.pk)
        return original(namespace, **kwargs)

    monkeypatch.setattr(fake_cluster, "wait_until_ready", delete_then_wait)
    store = _run(claimed_store)
    assert store.status == Status.DELETING
    assert store.failure_reason == ""
    assert StoreEvent.objects.filter(store=store, message__contains="cancelled").exists()


@pytest.mark.django_db
def test_it_does_nothing_when_another_worker_holds_the_lease(fake_cluster, claimed_store):
    assert lifecycle.take_lease(claimed_store.pk, Status.PROVISIONING)
    store = _run(claimed_store)
    assert store.status == Status.PROVISIONING
    assert fake_cluster.calls == []


@pytest.mark.django_db
def test_it_refuses_an_unavailable_engine(fake_cluster, alice, unavailable_engine):
    store = Store.objects.create(owner=alice, slug="m", engine="medusa", status=Status.QUEUED, queued_at=timezone.now())
    lifecycle.claim_provision_slots()
    store = _run(store)
    assert store.status == Status.FAILED
    assert "not available" in store.failure_reason


@pytest.mark.django_db
def test_it_tears_down_release_and_namespace(fake_cluster, claimed_store, settings):
    settings.CHECK_STORE_URL = False
    _run(claimed_store)
    lifecycle.request_delete(claimed_store.pk)
    tasks.delete(claimed_store.pk)
    claimed_store.refresh_from_db()
    assert claimed_store.status == Status.DELETED
    assert "store-acme" not in fake_cluster.namespaces
    assert ("uninstall", "store", "store-acme") in fake_cluster.helm.calls


@pytest.mark.django_db
def test_it_deletes_a_never_started_store_without_the_cluster(fake_cluster, alice):
    store = lifecycle.create_store(alice, "early", "woocommerce")
    lifecycle.request_delete(store.pk)
    tasks.delete(store.pk)
    store.refresh_from_db()
    assert store.status == Status.DELETED
    assert fake_cluster.calls == [] and fake_cluster.helm.calls == []


@pytest.mark.django_db
def test_it_stays_deleting_with_the_reason_when_deletion_hangs(fake_cluster, claimed_store, monkeypatch):
    def stuck(name, **_):
        raise cluster.NamespaceStuck("namespace store-acme still terminating: NamespaceContentRemaining: pods")

    monkeypatch.setattr(fake_cluster, "delete_namespace", stuck)
    fake_cluster.namespaces["store-acme"] = isolation.namespace_labels(claimed_store)
    lifecycle.request_delete(claimed_store.pk)
    tasks.delete(claimed_store.pk)
    claimed_store.refresh_from_db()
    assert claimed_store.status == Status.DELETING
    assert "NamespaceContentRemaining" in claimed_store.failure_reason
    assert claimed_store.lease_token == ""
    # Once the lease runs out, the reconcile task starts the delete again.
    Store.objects.filter(pk=claimed_store.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    monkeypatch.setattr(tasks, "enqueue_delete", lambda store_id: None)
    assert tasks.reconcile()["delete_resumed"] == [claimed_store.pk]


@pytest.mark.django_db
def test_it_deletes_the_namespace_even_when_helm_uninstall_fails(fake_cluster, claimed_store, monkeypatch):
    def broken(*args, **kwargs):
        raise cluster.ClusterError("helm uninstall store failed: another operation is in progress")

    monkeypatch.setattr(fake_cluster.helm, "uninstall", broken)
    fake_cluster.namespaces["store-acme"] = isolation.namespace_labels(claimed_store)
    lifecycle.request_delete(claimed_store.pk)
    tasks.delete(claimed_store.pk)
    claimed_store.refresh_from_db()
    assert claimed_store.status == Status.DELETED
    assert "store-acme" not in fake_cluster.namespaces
    assert StoreEvent.objects.filter(store=claimed_store, message__contains="another operation").exists()


@pytest.mark.django_db
def test_it_never_adopts_a_namespace_of_another_store(fake_cluster, claimed_store):
    fake_cluster.namespaces["store-acme"] = {
        "app.kubernetes.io/managed-by": "store-provisioner",
        "store-provisioner.io/store-id": "41",
    }
    store = _run(claimed_store)
    assert store.status == Status.FAILED
    assert "namespace store-acme already exists and belongs to store 41" in store.failure_reason
    assert fake_cluster.namespaces["store-acme"]["store-provisioner.io/store-id"] == "41"
    assert fake_cluster.secrets == {}


@pytest.mark.django_db
def test_reconcile_fails_overdue_provisions(claimed_store):
    Store.objects.filter(pk=claimed_store.pk).update(step="release", deadline_at=timezone.now() - timedelta(seconds=1))
    report = tasks.reconcile()
    claimed_store.refresh_from_db()
    assert report["timed_out"] == [claimed_store.pk]
    assert claimed_store.status == Status.FAILED
    assert claimed_store.failure_reason == "timed out while helm release"


@pytest.mark.django_db
def test_reconcile_resumes_a_provision_whose_worker_died(
    fake_cluster, claimed_store, sync_tasks, settings, django_capture_on_commit_callbacks
):
    settings.CHECK_STORE_URL = False
    # A worker took the lease, then was killed: the lease runs out.
    lifecycle.take_lease(claimed_store.pk, Status.PROVISIONING)
    Store.objects.filter(pk=claimed_store.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        report = tasks.reconcile()
    claimed_store.refresh_from_db()
    assert report["resumed"] == [claimed_store.pk]
    assert claimed_store.status == Status.READY
    assert list(fake_cluster.namespaces) == ["store-acme"]


@pytest.mark.django_db
def test_reconcile_starts_queued_stores_when_a_slot_is_free(alice, monkeypatch, django_capture_on_commit_callbacks):
    enqueued = []
    monkeypatch.setattr(tasks, "enqueue_provision", enqueued.append)
    a = lifecycle.create_store(alice, "a", "woocommerce")
    b = lifecycle.create_store(alice, "b", "woocommerce")
    c = lifecycle.create_store(alice, "c", "woocommerce")
    with django_capture_on_commit_callbacks(execute=True):
        report = tasks.reconcile()
    assert report["started"] == [a.pk, b.pk] and enqueued == [a.pk, b.pk]
    assert queue.place_of(Store.objects.get(pk=c.pk)) == 1


def test_it_finds_helm_by_setting_then_path_then_the_cached_build(settings, monkeypatch, tmp_path):
    settings.HELM_BIN = "/opt/helm"
    assert clients.helm_binary() == "/opt/helm"

    settings.HELM_BIN = ""
    (tmp_path / "helm").write_text("#!/bin/sh\n")
    (tmp_path / "helm").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert clients.helm_binary() == str(tmp_path / "helm")

    monkeypatch.setenv("PATH", "/nonexistent")
    cache = tmp_path / "cache"
    monkeypatch.setenv("STORE_PROVISIONER_CACHE", str(cache))
    settings.BASE_DIR = tmp_path / "repo"
    (tmp_path / "repo" / "localcluster").mkdir(parents=True)
    (tmp_path / "repo" / "localcluster" / "versions.env").write_text("HELM_VERSION=v3.99.0  # pinned\n")
    assert clients.helm_binary() == "helm"  # nothing built yet
    (cache / "bin").mkdir(parents=True)
    (cache / "bin" / "helm-v3.99.0").write_text("")
    assert clients.helm_binary() == str(cache / "bin" / "helm-v3.99.0")
