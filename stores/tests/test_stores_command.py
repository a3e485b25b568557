"""`manage.py stores`: list, create, delete, retry and reconcile from the shell."""

import io

import pytest
from django.core.management import CommandError, call_command

from stores import cluster, lifecycle
from stores.cluster.guardrails import MANAGED_BY_VALUE
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("stores", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def workers(sync_tasks, fake_cluster, settings):
    """Tasks run in-process against the fake cluster, at enqueue time."""
    settings.CHECK_STORE_URL = False
    return fake_cluster


def _managed_labels(store_id=1000):
    """A store namespace's labels as provisioning sets them: this platform's, and which store's."""
    return {"app.kubernetes.io/managed-by": MANAGED_BY_VALUE, "store-provisioner.io/store-id": str(store_id)}


# --- list ----------------------------------------------------------------------


def test_it_lists_live_stores(alice, bob):
    lifecycle.create_store(alice, "alice-shop", "woocommerce")
    ready = lifecycle.create_store(bob, "bob-shop", "woocommerce")
    Store.objects.filter(pk=ready.pk).update(status=Status.READY, step="storefront")
    gone = lifecycle.create_store(alice, "alice-old", "woocommerce")
    lifecycle.request_delete(gone.pk)
    lifecycle.mark_deleted(gone.pk)

    lines = _run("list").splitlines()

    assert lines[0].split() == ["SLUG", "OWNER", "ENGINE", "STATUS", "STEP", "URL"]
    assert [line.split() for line in lines[1:]] == [
        ["alice-shop", "alice", "woocommerce", "queued", "-", "http://store-alice-shop.127.0.0.1.nip.io"],
        ["bob-shop", "bob", "woocommerce", "ready", "storefront", "http://store-bob-shop.127.0.0.1.nip.io"],
    ]
    assert Store.objects.count() == 3


def test_it_lists_deleted_stores_with_all(alice):
    gone = lifecycle.create_store(alice, "alice-old", "woocommerce")
    lifecycle.request_delete(gone.pk)
    lifecycle.mark_deleted(gone.pk)

    lines = _run("list", "--all").splitlines()

    assert [line.split()[:4] for line in lines[1:]] == [["alice-old", "alice", "woocommerce", "deleted"]]


def test_it_lists_only_the_header_without_stores(db):
    assert _run("list").split() == ["SLUG", "OWNER", "ENGINE", "STATUS", "STEP", "URL"]


# --- create --------------------------------------------------------------------


def test_it_queues_a_store(alice):
    output = _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1")

    store = Store.objects.get()
    assert (store.owner, store.slug, store.engine, store.status) == (alice, "shop1", "woocommerce", Status.QUEUED)
    assert (store.country, store.currency) == ("US", "USD")  # the settings' defaults
    assert output == (
        f"shop1: queued (id {store.pk}, http://store-shop1.127.0.0.1.nip.io) in United States, selling in USD\n"
    )


def test_it_queues_a_store_in_the_country_and_currency_given(alice):
    output = _run(
        "create", "--owner", "alice", "--engine", "medusa", "--name", "shop1", "--country", "de", "--currency", "EUR"
    )

    store = Store.objects.get()
    assert (store.engine, store.country, store.currency) == ("medusa", "DE", "EUR")
    assert output.endswith(" in Germany, selling in EUR\n")


def test_it_takes_its_defaults_from_the_settings(alice, settings):
    settings.STORE_DEFAULT_COUNTRY, settings.STORE_DEFAULT_CURRENCY = "GB", "GBP"

    _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1")

    assert Store.objects.values_list("country", "currency").get() == ("GB", "GBP")


def test_it_refuses_a_currency_the_engine_does_not_sell_in(alice):
    with pytest.raises(CommandError) as refused:
        _run("create", "--owner", "alice", "--engine", "medusa", "--name", "shop1", "--currency", "BTC")

    assert str(refused.value) == "currency: MedusaJS does not sell in Bitcoin (฿), BTC. Choose another currency."
    assert not Store.objects.exists()


def test_it_refuses_an_unknown_country(alice):
    with pytest.raises(CommandError) as refused:
        _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1", "--country", "XX")

    assert str(refused.value) == "country: “XX” is not a country stores can be set up for."
    assert not Store.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_waits_until_the_store_is_ready(alice, workers):
    output = _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1", "--wait")

    store = Store.objects.get()
    assert store.status == Status.READY
    lines = output.splitlines()
    url = "http://store-shop1.127.0.0.1.nip.io"
    assert lines[0] == f"shop1: queued (id {store.pk}, {url}) in United States, selling in USD"
    for message in (
        "shop1: Provisioning started.",
        "shop1: Namespace store-shop1 is in place.",
        "shop1: ResourceQuota, LimitRange and NetworkPolicies applied.",
        "shop1: Secret store-secret holds the store's credentials.",
        "shop1: Helm release store revision 1 installed.",
        "shop1: Every workload is ready and the setup job succeeded.",
    ):
        assert any(line.startswith(message) for line in lines), message
    assert lines[-1] == "shop1: Store is ready at http://store-shop1.127.0.0.1.nip.io."
    # Every event is printed once, in order.
    events = list(StoreEvent.objects.filter(store=store).order_by("created_at", "pk").values_list("message", flat=True))
    assert [line.split(" (")[0] for line in lines[1:]] == [f"shop1: {m}".split(" (")[0] for m in events]


@pytest.mark.django_db(transaction=True)
def test_it_fails_with_the_reason_when_provisioning_fails(alice, workers):
    workers.wait_error = cluster.WorkloadFailed("pod x: ErrImagePull: boom")

    with pytest.raises(CommandError) as excinfo:
        _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1", "--wait")

    assert "ErrImagePull: boom" in str(excinfo.value)
    assert str(excinfo.value) == "shop1: failed: pod x: ErrImagePull: boom"
    store = Store.objects.get()
    assert store.status == Status.FAILED
    assert store.failure_reason == "pod x: ErrImagePull: boom"


@pytest.mark.parametrize(
    "name,message",
    [
        ("Shop1", "name: Use lowercase letters only, for example “shop1”."),
        ("-shop", "name: Use lowercase letters, digits and dashes, starting and ending with a letter or digit."),
        ("a" * 64, "name: Ensure this value has at most 57 characters (it has 64)."),
    ],
)
def test_it_rejects_a_bad_name(alice, name, message):
    with pytest.raises(CommandError) as excinfo:
        # "--name=-shop": a separate "-shop" would be read as an option.
        _run("create", "--owner", "alice", "--engine", "woocommerce", f"--name={name}")

    assert str(excinfo.value).startswith(message)
    assert not Store.objects.exists()


def test_it_rejects_an_unavailable_engine(alice, unavailable_engine):
    with pytest.raises(CommandError) as excinfo:
        _run("create", "--owner", "alice", "--engine", "medusa", "--name", "shop1")

    assert "MedusaJS stores are not available yet" in str(excinfo.value)
    assert not Store.objects.exists()


def test_it_rejects_an_unknown_owner(alice):
    with pytest.raises(CommandError) as excinfo:
        _run("create", "--owner", "nobody", "--engine", "woocommerce", "--name", "shop1")

    assert str(excinfo.value) == "no user named 'nobody'"
    assert not Store.objects.exists()


def test_it_rejects_a_taken_name(alice, bob):
    lifecycle.create_store(bob, "shop1", "woocommerce")

    with pytest.raises(CommandError) as excinfo:
        _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1")

    assert "The name “shop1” is taken." in str(excinfo.value)
    assert list(Store.objects.values_list("owner__username", flat=True)) == ["bob"]


def test_it_enforces_the_store_limit(alice):
    for name in ("one", "two", "three"):
        lifecycle.create_store(alice, name, "woocommerce")

    with pytest.raises(CommandError) as excinfo:
        _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "four")

    assert str(excinfo.value) == "You already have 3 of 3 stores. Delete one to create another."
    assert Store.objects.count() == 3


# --- delete ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_deletes_a_store_and_waits(alice, workers):
    _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1", "--wait")
    assert "store-shop1" in workers.namespaces

    output = _run("delete", "shop1", "--wait")

    store = Store.objects.get()
    assert store.status == Status.DELETED
    lines = output.splitlines()
    assert lines[0] == "shop1: deleting"
    assert "shop1: Helm release uninstalled." in [line.split(" (")[0] for line in lines]
    assert lines[-1] == "shop1: deleted"
    assert ("delete_namespace", "store-shop1") in workers.calls
    assert "store-shop1" not in workers.namespaces


def test_it_starts_a_delete(alice):
    store = lifecycle.create_store(alice, "shop1", "woocommerce")

    output = _run("delete", "shop1")

    assert output == "shop1: deleting\n"
    assert Store.objects.get(pk=store.pk).status == Status.DELETING


def test_it_says_when_a_store_is_already_being_deleted(alice):
    store = lifecycle.create_store(alice, "shop1", "woocommerce")
    lifecycle.request_delete(store.pk)
    events_before = StoreEvent.objects.filter(store=store).count()

    output = _run("delete", "shop1")

    assert output == "shop1: already being deleted\n"
    assert Store.objects.get(pk=store.pk).status == Status.DELETING
    assert StoreEvent.objects.filter(store=store).count() == events_before


def test_it_refuses_to_delete_a_store_that_does_not_exist(alice):
    gone = lifecycle.create_store(alice, "shop1", "woocommerce")
    lifecycle.request_delete(gone.pk)
    lifecycle.mark_deleted(gone.pk)

    with pytest.raises(CommandError) as excinfo:
        _run("delete", "shop1")

    assert str(excinfo.value) == "no live store named 'shop1'"
    assert Store.objects.get(pk=gone.pk).status == Status.DELETED


# --- retry -----------------------------------------------------------------------


def test_it_refuses_to_retry_a_store_that_is_not_failed(alice):
    store = lifecycle.create_store(alice, "shop1", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY)

    with pytest.raises(CommandError) as excinfo:
        _run("retry", "shop1")

    assert str(excinfo.value) == "shop1 is ready; only a failed or lost store can be retried"
    assert Store.objects.get(pk=store.pk).status == Status.READY


def test_it_retries_a_failed_store(alice):
    store = lifecycle.create_store(alice, "shop1", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.FAILED, failure_reason="boom")

    output = _run("retry", "shop1")

    assert output == "shop1: queued again\n"
    store.refresh_from_db()
    assert store.status == Status.QUEUED
    assert store.failure_reason == ""


# --- reconcile -------------------------------------------------------------------


def test_it_reports_no_orphans_on_an_empty_cluster(fake_cluster):
    assert _run("reconcile") == "no orphaned namespaces or releases\n"


def test_it_does_not_count_a_live_stores_namespace_as_orphaned(alice, fake_cluster):
    lifecycle.create_store(alice, "shop1", "woocommerce")
    fake_cluster.namespaces["store-shop1"] = _managed_labels()

    output = _run("reconcile")

    assert output.splitlines()[-1] == "no orphaned namespaces or releases"
    assert "store-shop1" in fake_cluster.namespaces


def test_it_reports_an_orphaned_namespace(alice, fake_cluster):
    gone = lifecycle.create_store(alice, "gone", "woocommerce")
    lifecycle.request_delete(gone.pk)
    lifecycle.mark_deleted(gone.pk)
    fake_cluster.namespaces["store-gone"] = _managed_labels()

    output = _run("reconcile")

    assert output.splitlines() == ["orphaned namespace: store-gone", "run with --prune to remove them"]
    assert "store-gone" in fake_cluster.namespaces
    assert ("delete_namespace", "store-gone") not in fake_cluster.calls


def test_it_never_prunes_a_namespace_whose_labels_name_no_store(alice, fake_cluster):
    # Labelled managed-by store-provisioner (a common label, another tool may
    # use it) but naming no store: not provably this platform's, left alone.
    _live_store_in_the_cluster(alice, fake_cluster)
    fake_cluster.namespaces["store-api"] = {"app.kubernetes.io/managed-by": MANAGED_BY_VALUE}
    fake_cluster.helm.releases[("store-api", "store")] = {"name": "store", "namespace": "store-api", "version": 1}
    # Not labelled at all: another team's namespace that happens to be called store-<slug>.
    fake_cluster.namespaces["store-web"] = {"team": "web"}
    fake_cluster.helm.releases[("store-web", "store")] = {"name": "store", "namespace": "store-web", "version": 1}

    output = _run("reconcile", "--prune")

    assert output.splitlines() == [
        f"left alone (labelled managed-by {MANAGED_BY_VALUE} but naming no store): store-api",
        "no orphaned namespaces or releases",
    ]
    assert set(fake_cluster.namespaces) == {"store-kept", "store-api", "store-web"}
    assert ("store-api", "store") in fake_cluster.helm.releases and ("store-web", "store") in fake_cluster.helm.releases
    assert not [c for c in fake_cluster.calls if c[0] == "delete_namespace"]
    assert not [c for c in fake_cluster.helm.calls if c[0] == "uninstall"]


def _live_store_in_the_cluster(owner, fake_cluster, slug="kept"):
    """A store this database knows, with its namespace and release: the cluster is this platform's."""
    store = lifecycle.create_store(owner, slug, "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY)
    fake_cluster.namespaces[store.namespace] = _managed_labels()
    fake_cluster.helm.releases[(store.namespace, "store")] = {"name": "store", "namespace": store.namespace}
    return store


def test_it_prunes_orphans(alice, fake_cluster):
    _live_store_in_the_cluster(alice, fake_cluster)
    fake_cluster.namespaces["store-gone"] = _managed_labels()
    fake_cluster.helm.releases[("store-gone", "store")] = {"name": "store", "namespace": "store-gone", "version": 1}

    output = _run("reconcile", "--prune")

    assert output.splitlines() == [
        "orphaned namespace: store-gone",
        "orphaned release: store-gone/store",
        "pruned",
    ]
    assert list(fake_cluster.namespaces) == ["store-kept"]
    assert list(fake_cluster.helm.releases) == [("store-kept", "store")]
    assert ("delete_namespace", "store-gone") in fake_cluster.calls
    assert ("uninstall", "store", "store-gone") in fake_cluster.helm.calls


def test_it_refuses_to_prune_a_cluster_whose_stores_this_database_does_not_know(fake_cluster):
    # An empty or wrong database: to it, every store in the cluster is an orphan.
    for slug in ("a", "b"):
        fake_cluster.namespaces[f"store-{slug}"] = _managed_labels()
        fake_cluster.helm.releases[(f"store-{slug}", "store")] = {"name": "store", "namespace": f"store-{slug}"}

    with pytest.raises(CommandError) as refused:
        _run("reconcile", "--prune")

    assert str(refused.value) == (
        "refusing to prune: this database knows none of the store namespaces in the cluster "
        "(an empty or wrong database?); 2 namespaces and 2 releases would go. "
        "Run again with --yes-i-mean-it to remove them."
    )
    assert set(fake_cluster.namespaces) == {"store-a", "store-b"}
    assert not [c for c in fake_cluster.calls if c[0] == "delete_namespace"]

    _run("reconcile", "--prune", "--yes-i-mean-it")
    assert fake_cluster.namespaces == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(30)
def test_delete_wait_ends_when_the_delete_is_stuck(alice, workers, settings, monkeypatch):
    _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1", "--wait")
    settings.DELETE_MAX_ATTEMPTS = 1

    def stuck(name, **_):
        raise cluster.NamespaceStuck("namespace store-shop1 is still terminating: a finalizer of its claim")

    monkeypatch.setattr(workers, "delete_namespace", stuck)

    with pytest.raises(CommandError, match=r"^shop1: delete stuck: "):
        _run("delete", "shop1", "--wait")


@pytest.mark.timeout(30)
def test_create_wait_gives_up_waiting_after_its_timeout(alice, settings, monkeypatch):
    from stores.management.commands import stores as command

    monkeypatch.setattr(command, "POLL_SECONDS", 0.05)
    # No worker runs: the store stays queued.
    with pytest.raises(CommandError) as gave_up:
        _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "shop1", "--wait", "--timeout", "1")

    assert str(gave_up.value) == (
        "shop1: still queued after 1 s; it carries on without this command (manage.py stores list)"
    )


def test_it_fails_a_provision_that_ran_past_its_deadline(alice, fake_cluster):
    from datetime import timedelta

    from django.utils import timezone

    store = lifecycle.create_store(alice, "slow", "woocommerce")
    lifecycle.claim_provision_slots()
    Store.objects.filter(pk=store.pk).update(step="workloads", deadline_at=timezone.now() - timedelta(seconds=1))

    output = _run("reconcile")

    assert "timed out: slow" in output.splitlines()
    store.refresh_from_db()
    assert store.status == Status.FAILED
    assert store.failure_reason == "timed out while workloads and setup job"


def test_it_does_not_take_a_store_claimed_while_listing_for_an_orphan(alice, fake_cluster, monkeypatch):
    real_list = fake_cluster.list_namespaces

    def claimed_meanwhile(label_selector):
        # Another worker creates a store and its namespace while the cluster is
        # listed (for the orphans: the drift check lists it first).
        if not Store.objects.filter(slug="new").exists():
            store = lifecycle.create_store(alice, "new", "woocommerce")
            lifecycle.claim_provision_slots()
            fake_cluster.namespaces[store.namespace] = _managed_labels()
        return real_list(label_selector)

    monkeypatch.setattr(fake_cluster, "list_namespaces", claimed_meanwhile)

    output = _run("reconcile", "--prune")

    assert output.splitlines()[-1] == "no orphaned namespaces or releases"
    assert "store-new" in fake_cluster.namespaces
    assert ("delete_namespace", "store-new") not in fake_cluster.calls


def test_it_never_prunes_a_namespace_or_release_younger_than_the_grace_period(fake_cluster, settings):
    settings.ORPHAN_GRACE_SECONDS = 600
    fake_cluster.ensure_namespace("store-fresh", _managed_labels())  # created just now
    fake_cluster.helm.releases[("store-fresh", "store")] = {"name": "store", "namespace": "store-fresh", "version": 1}
    fake_cluster.calls.clear()

    output = _run("reconcile", "--prune")

    assert output.splitlines() == [
        "not yet an orphan (younger than 600 s): store-fresh",
        "not yet an orphan (younger than 600 s): store-fresh/store",
        "no orphaned namespaces or releases",
    ]
    assert "store-fresh" in fake_cluster.namespaces
    assert fake_cluster.calls == [] and fake_cluster.helm.calls == []


def test_it_dates_a_release_in_a_namespace_of_unknown_age_by_its_last_change(fake_cluster, settings):
    settings.ORPHAN_GRACE_SECONDS = 600
    for ns in ("store-old", "store-undated"):
        fake_cluster.namespaces[ns] = _managed_labels()
        fake_cluster.created_at[ns] = None  # the API server gave no creation time
    releases = fake_cluster.helm.releases
    releases[("store-old", "store")] = {
        "name": "store",
        "namespace": "store-old",
        "updated": "2024-05-01 10:00:00.5 +0000 UTC",
    }
    releases[("store-undated", "store")] = {"name": "store", "namespace": "store-undated"}

    output = _run("reconcile")

    assert "orphaned release: store-old/store" in output.splitlines()
    assert "not yet an orphan (younger than 600 s): store-undated/store" in output.splitlines()


def test_it_lists_releases_only_in_namespaces_of_no_live_store(alice, fake_cluster):
    lifecycle.create_store(alice, "shop1", "woocommerce")
    fake_cluster.namespaces["store-shop1"] = _managed_labels()
    fake_cluster.namespaces["store-gone"] = _managed_labels()
    listed = []
    real_list = fake_cluster.helm.list_releases

    def list_releases(all_namespaces=True, namespace=None):
        listed.append((all_namespaces, namespace))
        return real_list(all_namespaces, namespace)

    fake_cluster.helm.list_releases = list_releases

    _run("reconcile")

    # Never cluster-wide: the platform may read Helm's release Secrets only in store namespaces.
    assert listed == [(False, "store-gone")]


def test_it_leaves_a_release_in_a_namespace_that_is_not_a_stores_alone(fake_cluster):
    # Not labelled as a store's: the platform's least-privilege account could not even list it.
    fake_cluster.helm.releases[("store-foreign", "store")] = {"name": "store", "namespace": "store-foreign"}

    output = _run("reconcile", "--prune")

    assert output == "no orphaned namespaces or releases\n"
    assert fake_cluster.helm.calls == []


def test_it_still_reports_an_orphaned_namespace_whose_releases_it_may_not_list(fake_cluster):
    fake_cluster.namespaces["store-gone"] = _managed_labels()
    fake_cluster.namespaces["store-unbound"] = _managed_labels()
    fake_cluster.helm.releases[("store-gone", "store")] = {"name": "store", "namespace": "store-gone", "version": 1}
    real_list = fake_cluster.helm.list_releases

    def list_releases(all_namespaces=True, namespace=None):
        if namespace == "store-unbound":
            raise cluster.ClusterError('helm list failed: secrets is forbidden: cannot list resource "secrets"')
        return real_list(all_namespaces, namespace)

    fake_cluster.helm.list_releases = list_releases

    output = _run("reconcile")

    assert output.splitlines() == [
        "orphaned namespace: store-gone",
        "orphaned namespace: store-unbound",
        "orphaned release: store-gone/store",
        "run with --prune to remove them",
    ]


# --- bind-web --------------------------------------------------------------------


def test_bind_web_binds_the_web_account_in_every_live_store_with_a_namespace(alice, fake_cluster, settings):
    settings.PLATFORM_WEB_SERVICE_ACCOUNT = "platform/sp-web"
    settings.PLATFORM_WEB_ROLE = "sp-store-reader"
    ready = lifecycle.create_store(alice, "ready-shop", "woocommerce")
    Store.objects.filter(pk=ready.pk).update(status=Status.READY)
    lifecycle.create_store(alice, "queued-shop", "woocommerce")  # no namespace yet
    gone = lifecycle.create_store(alice, "gone-shop", "woocommerce")
    Store.objects.filter(pk=gone.pk).update(status=Status.DELETED)
    for ns in ("store-ready-shop", "store-gone-shop"):
        fake_cluster.namespaces[ns] = _managed_labels()

    out = _run("bind-web")

    assert fake_cluster.bindings == {("store-ready-shop", "platform/sp-web"): "sp-store-reader"}
    assert out == "ready-shop: sp-store-reader bound to platform/sp-web\n"


def test_bind_web_says_so_without_a_web_account(fake_cluster, settings):
    settings.PLATFORM_WEB_SERVICE_ACCOUNT = ""
    with pytest.raises(CommandError, match="PLATFORM_WEB_SERVICE_ACCOUNT is not set"):
        _run("bind-web")


def test_bind_web_reports_the_stores_it_could_not_bind(alice, fake_cluster, settings, monkeypatch):
    settings.PLATFORM_WEB_SERVICE_ACCOUNT = "platform/sp-web"
    for slug in ("one", "two"):
        store = lifecycle.create_store(alice, slug, "woocommerce")
        Store.objects.filter(pk=store.pk).update(status=Status.READY)
        fake_cluster.namespaces[f"store-{slug}"] = _managed_labels()

    def refuse(namespace, service_account, cluster_role):
        if namespace == "store-one":
            raise cluster.ClusterError("forbidden")
        fake_cluster.bindings[(namespace, service_account)] = cluster_role

    monkeypatch.setattr(fake_cluster, "bind_store_role", refuse)

    with pytest.raises(CommandError, match=r"not bound in 1 store\(s\): one"):
        _run("bind-web")
    assert fake_cluster.bindings == {("store-two", "platform/sp-web"): "store-provisioner-store-reader"}


# --- guardrails ------------------------------------------------------------------


def test_guardrails_applies_the_current_ones_in_every_live_stores_own_namespace(alice, fake_cluster):
    ready = lifecycle.create_store(alice, "ready-shop", "woocommerce")
    Store.objects.filter(pk=ready.pk).update(status=Status.READY)
    lifecycle.create_store(alice, "queued-shop", "woocommerce")  # no namespace yet
    gone = lifecycle.create_store(alice, "gone-shop", "woocommerce")
    Store.objects.filter(pk=gone.pk).update(status=Status.DELETED)
    foreign = lifecycle.create_store(alice, "foreign-shop", "woocommerce")
    Store.objects.filter(pk=foreign.pk).update(status=Status.FAILED)
    fake_cluster.namespaces["store-ready-shop"] = _managed_labels(ready.pk)
    fake_cluster.namespaces["store-gone-shop"] = _managed_labels(gone.pk)
    fake_cluster.namespaces["store-foreign-shop"] = _managed_labels(ready.pk)  # another store's id

    out = _run("guardrails")

    assert [call for call in fake_cluster.calls if call[0] == "apply_guardrails"] == [
        ("apply_guardrails", "store-ready-shop")
    ]
    assert out == (
        "ready-shop: guardrails applied in store-ready-shop\n"
        "foreign-shop: left alone: store-foreign-shop is not this store's namespace\n"
    )


def test_guardrails_reports_the_stores_it_could_not_change(alice, fake_cluster, monkeypatch):
    for slug in ("one", "two"):
        store = lifecycle.create_store(alice, slug, "woocommerce")
        Store.objects.filter(pk=store.pk).update(status=Status.READY)
        fake_cluster.namespaces[f"store-{slug}"] = _managed_labels(store.pk)
    applied = []

    def refuse(namespace, spec):
        if namespace == "store-one":
            raise cluster.ClusterError("forbidden")
        applied.append((namespace, spec.egress_ports))

    monkeypatch.setattr(fake_cluster, "apply_guardrails", refuse)

    with pytest.raises(CommandError, match=r"not applied in 1 store\(s\): one"):
        _run("guardrails")
    assert applied == [("store-two", [80, 443])]
