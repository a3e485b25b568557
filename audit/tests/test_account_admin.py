"""The admin's changes to users and groups in the audit log: what changed, never a password."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from accounts.tests.test_user_admin import _user_form
from audit.models import Action, AuditEntry, Channel, Outcome
from audit.tests.helpers import only_entry

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operator", "op@example.org", "operator-password-1", is_staff=True)


def _change(client, user, **changes):
    """Post the user's change form as it stands, with `changes`."""
    data = _user_form(
        user,
        is_staff="on" if user.is_staff else "",
        is_superuser="on" if user.is_superuser else "",
        groups=list(user.groups.values_list("pk", flat=True)),
        user_permissions=list(user.user_permissions.values_list("pk", flat=True)),
    )
    # The dates as the page shows them (to the second), date_joined's twice:
    # the page also sends its initial value, which the form compares with.
    for name, when in (("date_joined", user.date_joined), ("initial-date_joined", user.date_joined)):
        data[f"{name}_0"], data[f"{name}_1"] = _date_and_time(when)
    if user.last_login:
        data["last_login_0"], data["last_login_1"] = _date_and_time(user.last_login)
    data.update(changes)
    response = client.post(reverse("admin:auth_user_change", args=[user.pk]), data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    return response


def _date_and_time(when):
    local = timezone.localtime(when)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


def _nowhere_in_the_log(secret):
    for entry in AuditEntry.objects.values():
        assert not any(secret in str(value) for value in entry.values()), entry


def test_it_records_a_user_made_superuser_with_a_group_and_a_permission(admin_client, admin_user, operator):
    admins = Group.objects.create(name="admins")
    change_store = Permission.objects.get(codename="change_store")

    _change(admin_client, operator, is_superuser="on", groups=[admins.pk], user_permissions=[change_store.pk])

    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel, entry.user) == (
        Action.CHANGE_USER,
        Outcome.DONE,
        Channel.ADMIN,
        admin_user,
    )
    assert entry.detail == (
        "user operator: is_superuser off → on; groups +admins; user_permissions +stores.change_store"
    )


def test_it_records_rights_taken_away(admin_client, operator):
    admins = Group.objects.create(name="admins")
    operator.groups.add(admins)

    _change(admin_client, operator, is_staff="", groups=[])

    assert only_entry().detail == "user operator: is_staff on → off; groups -admins"


def test_it_names_other_fields_and_shows_the_store_limit(admin_client, alice):
    _change(admin_client, alice, email="alice@example.com", **{"profile-0-store_limit": "5"})

    assert only_entry().detail == "user alice: email; store_limit default → 5"
    assert Profile.objects.get(user=alice).store_limit == 5


def test_it_records_nothing_when_nothing_changed(admin_client, alice):
    _change(admin_client, alice)

    assert not AuditEntry.objects.exists()


def test_it_records_only_what_a_staff_user_could_change(client, operator):
    operator.user_permissions.set(Permission.objects.filter(codename__in=["change_user", "view_user"]))
    client.force_login(operator)

    _change(client, operator, email="new@example.org", is_superuser="on")

    assert only_entry().detail == "user operator: email"


def test_it_records_a_new_user_without_the_password(admin_client):
    response = admin_client.post(
        reverse("admin:auth_user_add"),
        {
            "username": "carol",
            "password1": "carol-Secret-pw-9",
            "password2": "carol-Secret-pw-9",
            "usable_password": "true",
            "profile-TOTAL_FORMS": "1",
            "profile-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302
    entry = only_entry()
    assert (entry.action, entry.detail) == (Action.ADD_USER, "user carol")
    _nowhere_in_the_log("carol-Secret-pw-9")


def test_it_records_a_password_set_without_the_password(admin_client, alice):
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[alice.pk]),
        {"password1": "fresh-Secret-for-7", "password2": "fresh-Secret-for-7", "usable_password": "true"},
    )

    assert response.status_code == 302
    assert (only_entry().action, only_entry().detail) == (Action.CHANGE_USER, "user alice: password set")
    _nowhere_in_the_log("fresh-Secret-for-7")


def test_it_does_not_record_a_refused_password(admin_client, alice):
    response = admin_client.post(
        reverse("admin:auth_user_password_change", args=[alice.pk]),
        {"password1": "fresh-Secret-for-7", "password2": "other-Secret-for-7", "usable_password": "true"},
    )

    assert response.status_code == 200
    assert not AuditEntry.objects.exists()


def test_it_records_a_deleted_user(admin_client, operator):
    response = admin_client.post(reverse("admin:auth_user_delete", args=[operator.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert (only_entry().action, only_entry().detail) == (Action.DELETE_USER, "user operator (is_staff)")


def test_it_records_users_deleted_in_bulk(admin_client, alice, bob):
    admin_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [alice.pk, bob.pk], "post": "yes"},
    )

    assert sorted(AuditEntry.objects.values_list("action", "detail")) == [
        (Action.DELETE_USER, "user alice"),
        (Action.DELETE_USER, "user bob"),
    ]


def test_it_records_a_groups_permissions(admin_client):
    view_store = Permission.objects.get(codename="view_store")
    change_store = Permission.objects.get(codename="change_store")

    admin_client.post(reverse("admin:auth_group_add"), {"name": "support", "permissions": [view_store.pk]})
    group = Group.objects.get(name="support")
    admin_client.post(
        reverse("admin:auth_group_change", args=[group.pk]), {"name": "support", "permissions": [change_store.pk]}
    )
    admin_client.post(reverse("admin:auth_group_delete", args=[group.pk]), {"post": "yes"})

    assert list(AuditEntry.objects.order_by("pk").values_list("action", "detail")) == [
        (Action.ADD_GROUP, "group support: permissions stores.view_store"),
        (Action.CHANGE_GROUP, "group support: permissions +stores.change_store -stores.view_store"),
        (Action.DELETE_GROUP, "group support"),
    ]
