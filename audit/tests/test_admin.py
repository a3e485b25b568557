"""The audit log in the admin: listed, filtered, searched, and never added, changed or deleted."""

import pytest
from django.contrib.admin.sites import site
from django.urls import reverse

from audit import log
from audit.models import Action, AuditEntry, Outcome
from stores import lifecycle

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:audit_auditentry_changelist")


def _web_request(rf, user, ip="203.0.113.7"):
    request = rf.post("/stores/1/delete/", REMOTE_ADDR=ip, HTTP_USER_AGENT="Firefox/140")
    request.user = user
    return request


@pytest.fixture
def entries(rf, alice, bob):
    shop = lifecycle.create_store(alice, "alice-shop", "woocommerce")
    other = lifecycle.create_store(bob, "bob-shop", "woocommerce")
    log.record(Action.CREATE, request=_web_request(rf, alice), store=shop)
    log.record(
        Action.DELETE,
        request=_web_request(rf, bob, ip="198.51.100.4"),
        store=shop,
        outcome=Outcome.REFUSED,
        detail="not the owner (the store belongs to alice)",
    )
    log.record(Action.RETRY, store=other)  # manage.py
    return shop, other


def _listed(response):
    return [(e.action, e.username or e.os_user, e.store_slug) for e in response.context["cl"].result_list]


def test_it_lists_entries_newest_first(admin_client, entries, alice):
    response = admin_client.get(CHANGELIST)

    assert response.status_code == 200
    assert _listed(response) == [
        (Action.RETRY, log.os_user(), "bob-shop"),
        (Action.DELETE, "bob", "alice-shop"),
        (Action.CREATE, "alice", "alice-shop"),
    ]
    body = response.content.decode()
    assert "203.0.113.7" in body and "198.51.100.4" in body
    assert "not the owner (the store belongs to alice)" in body


def test_it_offers_filters_by_action_outcome_channel_and_date(admin_client, entries):
    response = admin_client.get(CHANGELIST)

    assert [spec.title for spec in response.context["cl"].filter_specs] == [
        "action",
        "outcome",
        "channel",
        "created at",
    ]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"action__exact": "create"}, {"alice"}),
        ({"outcome__exact": "refused"}, {"bob"}),
        ({"channel__exact": "manage.py"}, {""}),
        ({"q": "bob"}, {"bob", ""}),  # bob, and the entry for bob-shop
        ({"q": "198.51.100.4"}, {"bob"}),
        ({"q": "bob-shop"}, {""}),
    ],
)
def test_it_filters_and_searches(admin_client, entries, params, expected):
    response = admin_client.get(CHANGELIST, params)

    assert response.status_code == 200
    assert {e.username for e in response.context["cl"].result_list} == expected


def test_it_filters_by_date(admin_client, entries):
    AuditEntry.objects.filter(action=Action.CREATE).update(created_at="2020-01-02T03:04:05Z")

    response = admin_client.get(CHANGELIST, {"created_at__year": "2020"})

    assert [e.action for e in response.context["cl"].result_list] == [Action.CREATE]


def test_it_links_a_store_page_to_its_entries(admin_client, entries):
    shop, _ = entries

    page = admin_client.get(reverse("admin:stores_store_change", args=[shop.pk]))
    link = f"{CHANGELIST}?store_pk={shop.pk}"
    assert link in page.content.decode()

    response = admin_client.get(link)
    assert response.status_code == 200
    assert {e.store_slug for e in response.context["cl"].result_list} == {"alice-shop"}
    assert len(response.context["cl"].result_list) == 2


def test_it_shows_an_entry_read_only(admin_client, entries):
    entry = AuditEntry.objects.get(action=Action.CREATE)

    response = admin_client.get(reverse("admin:audit_auditentry_change", args=[entry.pk]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "Firefox/140" in body
    assert 'name="username"' not in body and 'name="action"' not in body  # no form fields
    assert 'name="_save"' not in body
    assert reverse("admin:audit_auditentry_delete", args=[entry.pk]) not in body


def test_it_refuses_to_add_change_or_delete_even_for_a_superuser(admin_client, admin_user, entries):
    entry = AuditEntry.objects.get(action=Action.CREATE)
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])

    assert admin_client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    assert admin_client.post(reverse("admin:audit_auditentry_add"), {"action": "delete"}).status_code == 403
    assert admin_client.post(change, {"action": "delete", "username": "mallory"}).status_code == 403
    assert admin_client.get(reverse("admin:audit_auditentry_delete", args=[entry.pk])).status_code == 403
    assert (
        admin_client.post(reverse("admin:audit_auditentry_delete", args=[entry.pk]), {"post": "yes"}).status_code == 403
    )
    # Nor through the changelist's bulk delete action, which is not offered at all.
    response = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    )
    assert response.status_code == 200
    assert AuditEntry.objects.count() == 3
    entry.refresh_from_db()
    assert (entry.action, entry.username) == (Action.CREATE, "alice")


def test_it_reports_every_permission_but_view_as_refused(rf, admin_user):
    request = rf.get(CHANGELIST)
    request.user = admin_user
    model_admin = site._registry[AuditEntry]

    assert model_admin.has_view_permission(request) is True
    assert model_admin.has_add_permission(request) is False
    assert model_admin.has_change_permission(request) is False
    assert model_admin.has_delete_permission(request) is False
    assert "delete_selected" not in model_admin.get_actions(request)


def test_it_keeps_out_users_who_are_not_staff(alice_client):
    response = alice_client.get(CHANGELIST)

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_it_refuses_to_save_an_entry_twice(entries):
    entry = AuditEntry.objects.first()
    entry.username = "mallory"

    with pytest.raises(ValueError, match="cannot be changed"):
        entry.save()
    entry.refresh_from_db()
    assert entry.username != "mallory"
