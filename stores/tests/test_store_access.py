"""The namespace step binds the platform's own account in each store (least privilege)."""

import pytest

from provisioner.tests.settings_probe import run as _run_manage
from stores import cluster, tasks
from stores.models import Status

ACCOUNT = "platform/store-provisioner"


def _provision(store):
    tasks.provision(store.pk)
    store.refresh_from_db()
    return store


@pytest.fixture
def bound_settings(settings):
    settings.CHECK_STORE_URL = False
    settings.PLATFORM_SERVICE_ACCOUNT = ACCOUNT
    settings.PLATFORM_STORE_ROLE = "sp-store-manager"
    return settings


@pytest.mark.django_db
def test_it_binds_the_store_role_right_after_creating_the_namespace(fake_cluster, store, bound_settings):
    store = _provision(store)

    assert store.status == Status.READY, store.failure_reason
    assert fake_cluster.bindings == {("store-acme", ACCOUNT): "sp-store-manager"}
    names = [c[0] for c in fake_cluster.calls]
    # Before anything is put into the namespace: every later step needs the binding.
    assert names.index("ensure_namespace") < names.index("bind_store_role") < names.index("apply_guardrails")


@pytest.mark.django_db
def test_it_binds_nothing_without_a_platform_account(fake_cluster, store, settings):
    settings.CHECK_STORE_URL = False
    assert settings.PLATFORM_SERVICE_ACCOUNT == ""

    store = _provision(store)

    assert store.status == Status.READY, store.failure_reason
    assert fake_cluster.bindings == {}
    assert not [c for c in fake_cluster.calls if c[0] == "bind_store_role"]


@pytest.mark.django_db
def test_it_fails_the_namespace_step_when_the_binding_is_refused(fake_cluster, store, bound_settings, monkeypatch):
    def refuse(namespace, service_account, cluster_role):
        raise cluster.ClusterError(f"binding {cluster_role} to {service_account} in {namespace} failed: forbidden")

    monkeypatch.setattr(fake_cluster, "bind_store_role", refuse)

    store = _provision(store)

    assert store.status == Status.FAILED
    assert store.step == "namespace"
    assert store.failure_reason == f"binding sp-store-manager to {ACCOUNT} in store-acme failed: forbidden"
    assert not [c for c in fake_cluster.calls if c[0] == "apply_guardrails"]


@pytest.mark.django_db
def test_it_binds_again_when_a_retry_runs_the_namespace_step_again(fake_cluster, store, bound_settings):
    from stores import lifecycle

    fake_cluster.wait_error = cluster.WorkloadFailed("job store-setup failed: BackoffLimitExceeded")
    assert _provision(store).status == Status.FAILED
    fake_cluster.wait_error = None
    lifecycle.request_retry(store.pk)
    assert lifecycle.claim_provision_slots() == [store.pk]

    assert _provision(store).status == Status.READY

    binds = [c for c in fake_cluster.calls if c[0] == "bind_store_role"]
    assert binds == [("bind_store_role", "store-acme", ACCOUNT, "sp-store-manager")] * 2


def test_it_refuses_a_platform_account_that_is_not_namespace_slash_name():
    result = _run_manage(["manage.py", "check"], PLATFORM_SERVICE_ACCOUNT="store-provisioner")
    assert result.returncode != 0
    assert "PLATFORM_SERVICE_ACCOUNT must be namespace/name, not 'store-provisioner'" in result.stderr


def test_it_reads_the_platform_account_and_role_from_the_environment():
    from provisioner.tests.settings_probe import settings_json as _settings_json

    assert _settings_json("settings.PLATFORM_SERVICE_ACCOUNT", PLATFORM_SERVICE_ACCOUNT=ACCOUNT) == ACCOUNT
    assert _settings_json("settings.PLATFORM_STORE_ROLE") == "store-provisioner-store-manager"


WEB_ACCOUNT = "platform/store-provisioner-web"


@pytest.mark.django_db
def test_it_binds_the_store_reader_role_to_the_web_account_after_the_store_role(fake_cluster, store, bound_settings):
    bound_settings.PLATFORM_WEB_SERVICE_ACCOUNT = WEB_ACCOUNT
    bound_settings.PLATFORM_WEB_ROLE = "sp-store-reader"

    store = _provision(store)

    assert store.status == Status.READY, store.failure_reason
    assert fake_cluster.bindings == {
        ("store-acme", ACCOUNT): "sp-store-manager",
        ("store-acme", WEB_ACCOUNT): "sp-store-reader",
    }
    binds = [c[1:] for c in fake_cluster.calls if c[0] == "bind_store_role"]
    # The platform's own first: it is what lets the next binding and every later step through.
    assert binds == [("store-acme", ACCOUNT, "sp-store-manager"), ("store-acme", WEB_ACCOUNT, "sp-store-reader")]


def test_it_refuses_a_web_account_that_is_not_namespace_slash_name():
    result = _run_manage(["manage.py", "check"], PLATFORM_WEB_SERVICE_ACCOUNT="store-provisioner-web")
    assert result.returncode != 0
    assert "PLATFORM_WEB_SERVICE_ACCOUNT must be namespace/name, not 'store-provisioner-web'" in result.stderr


def test_it_reads_the_web_account_and_role_from_the_environment():
    from provisioner.tests.settings_probe import settings_json as _settings_json

    assert (
        _settings_json("settings.PLATFORM_WEB_SERVICE_ACCOUNT", PLATFORM_WEB_SERVICE_ACCOUNT=WEB_ACCOUNT) == WEB_ACCOUNT
    )
    assert _settings_json("settings.PLATFORM_WEB_ROLE") == "store-provisioner-store-reader"
