"""The operator's admin: stores with filters and actions, read-only events, store limits."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Profile
from stores import cluster, lifecycle, tasks
from stores.models import Status, Store, StoreEvent
from stores.tests.helpers import provision

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:stores_store_changelist")


def _act(client, action, *stores):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [s.pk for s in stores], "index": 0}, follow=True
    )


def _messages(response):
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_lists_stores_with_status_engine_and_owner_filters(admin_client, alice, bob):
    lifecycle.create_store(alice, "alice-shop", "woocommerce")
    lifecycle.create_store(bob, "bob-shop", "woocommerce")

    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    cl = response.context["cl"]
    assert [spec.title for spec in cl.filter_specs] == ["status", "health", "checkout failing", "engine", "owner"]
    assert sorted(s.slug for s in cl.result_list) == ["alice-shop", "bob-shop"]
    body = response.content.decode()
    assert "By status" in body and "By engine" in body and "By owner" in body


def test_it_filters_by_status(admin_client, alice):
    lifecycle.create_store(alice, "waiting", "woocommerce")
    broken = lifecycle.create_store(alice, "broken", "woocommerce")
    Store.objects.filter(pk=broken.pk).update(status=Status.FAILED)

    response = admin_client.get(CHANGELIST, {"status__exact": "failed"})

    assert response.status_code == 200
    assert [s.slug for s in response.context["cl"].result_list] == ["broken"]


def test_it_filters_by_owner(admin_client, alice, bob):
    lifecycle.create_store(alice, "alice-shop", "woocommerce")
    lifecycle.create_store(bob, "bob-shop", "woocommerce")

    response = admin_client.get(CHANGELIST, {"owner__id__exact": bob.pk})

    assert response.status_code == 200
    assert [s.slug for s in response.context["cl"].result_list] == ["bob-shop"]


def test_it_filters_by_engine(admin_client, alice):
    lifecycle.create_store(alice, "woo", "woocommerce")

    woo = admin_client.get(CHANGELIST, {"engine__exact": "woocommerce"})
    medusa = admin_client.get(CHANGELIST, {"engine__exact": "medusa"})

    assert [s.slug for s in woo.context["cl"].result_list] == ["woo"]
    assert list(medusa.context["cl"].result_list) == []


def test_it_keeps_out_users_who_are_not_staff(alice_client, alice):
    lifecycle.create_store(alice, "alice-shop", "woocommerce")

    response = alice_client.get(CHANGELIST)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_it_shows_a_store_with_its_events(admin_client, alice):
    store = lifecycle.create_store(alice, "alice-shop", "woocommerce")

    response = admin_client.get(reverse("admin:stores_store_change", args=[store.pk]))

    assert response.status_code == 200
    assert "Store requested; waiting for a free provisioning slot." in response.content.decode()


def test_it_retries_failed_stores(admin_client, alice, workers, fake_cluster):
    store = provision(
        alice, "broken", workers, fake_cluster, fail_with=cluster.WorkloadFailed("pod x: ErrImagePull: boom")
    )

    with workers():
        response = _act(admin_client, "retry_stores", store)

    assert response.status_code == 200
    assert _messages(response) == ["Retrying 1 store(s)."]
    store.refresh_from_db()
    assert store.status == Status.READY
    assert store.attempts == 2


def test_it_refuses_to_retry_a_store_that_is_not_failed(admin_client, alice, workers, fake_cluster):
    ready = provision(alice, "fine", workers, fake_cluster)
    events_before = StoreEvent.objects.filter(store=ready).count()

    with workers():
        response = _act(admin_client, "retry_stores", ready)

    assert response.status_code == 200
    assert _messages(response) == ["1 store(s) were not failed and were left alone."]
    ready.refresh_from_db()
    assert ready.status == Status.READY
    assert ready.attempts == 1
    assert StoreEvent.objects.filter(store=ready).count() == events_before


def test_it_deletes_stores(admin_client, alice, bob, workers, fake_cluster):
    first = provision(alice, "first", workers, fake_cluster)
    second = provision(bob, "second", workers, fake_cluster)
    fake_cluster.calls.clear()
    fake_cluster.helm.calls.clear()

    with workers():
        response = _act(admin_client, "delete_stores", first, second)

    assert response.status_code == 200
    assert _messages(response) == ["Deleting 2 store(s)."]
    assert set(Store.objects.values_list("status", flat=True)) == {Status.DELETED}
    assert sorted(fake_cluster.helm.calls) == [
        ("uninstall", "store", "store-first"),
        ("uninstall", "store", "store-second"),
    ]
    assert sorted(c for c in fake_cluster.calls if c[0] == "delete_namespace") == [
        ("delete_namespace", "store-first"),
        ("delete_namespace", "store-second"),
    ]
    assert fake_cluster.namespaces == {}


def test_it_restarts_a_delete_that_is_stuck(admin_client, alice, workers, fake_cluster):
    store = provision(alice, "stuck", workers, fake_cluster)
    lifecycle.request_delete(store.pk)
    fake_cluster.calls.clear()

    with workers():
        response = _act(admin_client, "delete_stores", store)

    assert response.status_code == 200
    assert _messages(response) == ["Restarted 1 delete(s), with a fresh count of attempts."]
    assert Store.objects.get(pk=store.pk).status == Status.DELETED
    assert ("delete_namespace", "store-stuck") in fake_cluster.calls


def test_it_leaves_a_deleted_store_alone(admin_client, alice, workers, fake_cluster):
    store = provision(alice, "gone", workers, fake_cluster)
    with workers():
        tasks.request_delete(store.pk)
    assert Store.objects.get(pk=store.pk).status == Status.DELETED
    events_before = StoreEvent.objects.filter(store=store).count()
    fake_cluster.calls.clear()
    fake_cluster.helm.calls.clear()

    with workers():
        response = _act(admin_client, "delete_stores", store)

    assert response.status_code == 200
    assert _messages(response) == ["1 store(s) already deleted; left alone."]
    assert Store.objects.get(pk=store.pk).status == Status.DELETED
    assert StoreEvent.objects.filter(store=store).count() == events_before
    assert fake_cluster.calls == [] and fake_cluster.helm.calls == []


def test_it_does_not_add_or_delete_store_rows(admin_client, alice):
    store = lifecycle.create_store(alice, "alice-shop", "woocommerce")

    add = admin_client.get(reverse("admin:stores_store_add"))
    delete = admin_client.post(reverse("admin:stores_store_delete", args=[store.pk]), {"post": "yes"})
    changelist = admin_client.get(CHANGELIST)

    assert add.status_code == 403
    assert delete.status_code == 403
    actions = [name for name, _ in changelist.context["action_form"].fields["action"].choices]
    assert "delete_selected" not in actions
    assert {"retry_stores", "delete_stores"} <= set(actions)
    assert Store.objects.filter(pk=store.pk, status=Status.QUEUED).exists()


def test_it_shows_store_fields_read_only(admin_client, alice):
    store = lifecycle.create_store(alice, "alice-shop", "woocommerce")

    response = admin_client.post(
        reverse("admin:stores_store_change", args=[store.pk]),
        {"status": "ready", "slug": "renamed", "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0},
    )

    assert response.status_code == 302
    store.refresh_from_db()
    assert store.status == Status.QUEUED
    assert store.slug == "alice-shop"


def test_it_keeps_events_read_only(admin_client, alice):
    store = lifecycle.create_store(alice, "alice-shop", "woocommerce")
    event = StoreEvent.objects.get(store=store)

    changelist = admin_client.get(reverse("admin:stores_storeevent_changelist"))
    add = admin_client.get(reverse("admin:stores_storeevent_add"))
    change = admin_client.post(
        reverse("admin:stores_storeevent_change", args=[event.pk]), {"message": "rewritten", "kind": "info"}
    )
    delete = admin_client.post(reverse("admin:stores_storeevent_delete", args=[event.pk]), {"post": "yes"})

    assert changelist.status_code == 200
    assert add.status_code == 403
    assert change.status_code == 403
    assert delete.status_code == 403
    event.refresh_from_db()
    assert event.message == "Store requested; waiting for a free provisioning slot."


def test_it_reports_event_permissions_as_read_only(rf, admin_user):
    from django.contrib.admin.sites import site

    request = rf.get("/")
    request.user = admin_user
    model_admin = site._registry[StoreEvent]

    assert model_admin.has_view_permission(request)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_it_edits_a_users_store_limit(admin_client, alice, alice_client):
    profile = Profile.objects.create(user=alice)

    response = admin_client.post(
        reverse("admin:accounts_profile_change", args=[profile.pk]), {"user": alice.pk, "store_limit": 5}
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.store_limit == 5
    assert alice_client.get(reverse("profile")).context["store_limit"] == 5


def test_it_clears_a_users_store_limit(admin_client, alice):
    profile = Profile.objects.create(user=alice, store_limit=9)

    response = admin_client.post(
        reverse("admin:accounts_profile_change", args=[profile.pk]), {"user": alice.pk, "store_limit": ""}
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    assert profile.store_limit is None
    assert profile.effective_store_limit == 3


def test_it_edits_store_limits_in_the_profile_list(admin_client, alice, bob):
    alice_profile = Profile.objects.create(user=alice)
    bob_profile = Profile.objects.create(user=bob, store_limit=2)
    changelist = reverse("admin:accounts_profile_changelist")
    profiles = admin_client.get(changelist).context["cl"].result_list
    data = {
        "form-TOTAL_FORMS": 2,
        "form-INITIAL_FORMS": 2,
        "form-MIN_NUM_FORMS": 0,
        "form-MAX_NUM_FORMS": 1000,
        "_save": "Save",
    }
    limits = {alice_profile.pk: 6, bob_profile.pk: ""}
    for i, profile in enumerate(profiles):
        data[f"form-{i}-id"] = profile.pk
        data[f"form-{i}-store_limit"] = limits[profile.pk]

    response = admin_client.post(changelist, data)

    assert response.status_code == 302
    alice_profile.refresh_from_db()
    bob_profile.refresh_from_db()
    assert alice_profile.store_limit == 6
    assert bob_profile.store_limit is None


def test_it_edits_the_store_limit_on_the_user_page(admin_client, alice):
    url = reverse("admin:auth_user_change", args=[alice.pk])
    page = admin_client.get(url)
    assert 'name="profile-0-store_limit"' in page.content.decode()
    joined = alice.date_joined

    response = admin_client.post(
        url,
        {
            "username": "alice",
            "email": "alice@example.org",
            "is_active": "on",
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
            "profile-TOTAL_FORMS": 1,
            "profile-INITIAL_FORMS": 0,
            "profile-MIN_NUM_FORMS": 0,
            "profile-MAX_NUM_FORMS": 1,
            "profile-0-store_limit": 4,
            "profile-0-user": alice.pk,
        },
    )

    assert response.status_code == 302
    assert Profile.objects.get(user=alice).store_limit == 4


@pytest.fixture
def viewer_client(client, django_user_model):
    """A staff user who may only view stores."""
    from django.contrib.auth.models import Permission

    viewer = django_user_model.objects.create_user("viewer", "viewer@example.org", "viewer-password-1", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_store"))
    client.force_login(viewer)
    return client


def test_it_offers_no_actions_to_a_staff_user_who_may_only_view(viewer_client, alice, workers, fake_cluster):
    store = provision(alice, "fine", workers, fake_cluster)
    changelist = viewer_client.get(CHANGELIST)
    assert changelist.status_code == 200
    action_form = changelist.context["action_form"]  # None when no action is allowed
    offered = {name for name, _ in action_form.fields["action"].choices} if action_form else set()
    assert not {"retry_stores", "delete_stores"} & offered
    fake_cluster.calls.clear()

    with workers():
        response = _act(viewer_client, "delete_stores", store)

    assert response.status_code == 200
    store.refresh_from_db()
    assert store.status == Status.READY
    assert fake_cluster.calls == []


def test_it_does_not_let_a_viewer_retry(viewer_client, alice, workers, fake_cluster):
    store = provision(
        alice, "broken", workers, fake_cluster, fail_with=cluster.WorkloadFailed("pod x: ErrImagePull: boom")
    )

    with workers():
        _act(viewer_client, "retry_stores", store)

    store.refresh_from_db()
    assert store.status == Status.FAILED and store.attempts == 1


def test_it_leaves_a_delete_that_a_worker_is_running_alone(admin_client, alice, workers, fake_cluster, monkeypatch):
    store = provision(alice, "busy", workers, fake_cluster)
    lifecycle.request_delete(store.pk)
    token = lifecycle.take_lease(store.pk, Status.DELETING)  # a worker is deleting it now
    started = []
    monkeypatch.setattr(tasks, "enqueue_delete", started.append)

    with workers():
        response = _act(admin_client, "delete_stores", store)

    assert response.status_code == 200
    assert _messages(response) == ["1 delete(s) already running (a worker holds the store); left alone."]
    assert started == []
    store.refresh_from_db()
    assert store.status == Status.DELETING and store.lease_token == token


def test_it_reports_a_store_another_operator_deleted_meanwhile(admin_client, alice, workers, fake_cluster, monkeypatch):
    store = provision(alice, "raced", workers, fake_cluster)
    real_request_delete = lifecycle.request_delete

    def deleted_just_before(store_id):
        # What a second operator's click, finished a moment earlier, leaves behind.
        real_request_delete(store_id)
        lifecycle.mark_deleted(store_id)
        real_request_delete(store_id)

    monkeypatch.setattr(lifecycle, "request_delete", deleted_just_before)

    with workers():
        response = _act(admin_client, "delete_stores", store)

    assert response.status_code == 200
    assert _messages(response) == ["1 store(s) already deleted; left alone."]


def test_it_restarts_a_stuck_delete_with_a_fresh_count(
    admin_client, alice, workers, fake_cluster, monkeypatch, settings
):
    store = provision(alice, "stuck", workers, fake_cluster)
    settings.DELETE_MAX_ATTEMPTS = 1
    real_delete_namespace = fake_cluster.delete_namespace

    def stuck(name, **_):
        raise cluster.NamespaceStuck("namespace store-stuck is still terminating: namespace finalizers: kubernetes")

    monkeypatch.setattr(fake_cluster, "delete_namespace", stuck)
    with workers():
        tasks.request_delete(store.pk)
    store.refresh_from_db()
    assert store.status == Status.DELETE_STUCK and store.delete_attempts == 1
    monkeypatch.setattr(fake_cluster, "delete_namespace", real_delete_namespace)  # the operator fixed it

    with workers():
        response = _act(admin_client, "delete_stores", store)

    assert _messages(response) == ["Restarted 1 delete(s), with a fresh count of attempts."]
    store.refresh_from_db()
    assert store.status == Status.DELETED
    assert store.delete_attempts == 1
    messages = list(StoreEvent.objects.filter(store=store).values_list("message", flat=True))
    assert "Delete restarted by an operator." in messages
