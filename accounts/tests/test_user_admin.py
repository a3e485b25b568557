"""The admin's Users and Groups: only a superuser hands out admin rights."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _change_url(user):
    return reverse("admin:auth_user_change", args=[user.pk])


@pytest.fixture
def operator(django_user_model):
    """Staff with every permission on users and groups, but not a superuser."""
    user = django_user_model.objects.create_user("operator", "op@example.org", "operator-password-1", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["auth", "accounts"]))
    return user


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@example.org", "root-password-1")


def _user_form(user, **changes):
    """The change form's fields as the page posts them, everything ticked that escalates."""
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [],
        "user_permissions": [],
        "date_joined_0": "2026-01-02",
        "date_joined_1": "03:04:05",
        "profile-TOTAL_FORMS": "1",
        "profile-INITIAL_FORMS": "0",
        "profile-MIN_NUM_FORMS": "0",
        "profile-MAX_NUM_FORMS": "1",
        "profile-0-store_limit": "",
    }
    data.update(changes)
    return data


def test_a_staff_user_cannot_make_themselves_superuser(operator_client, operator):
    everything = Permission.objects.values_list("pk", flat=True)
    admins = Group.objects.create(name="admins")
    admins.permissions.set(everything)

    response = operator_client.post(
        _change_url(operator),
        _user_form(operator, email="new@example.org", user_permissions=list(everything), groups=[admins.pk]),
    )

    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.email == "new@example.org"  # the rest of the form still saves
    assert not operator.is_superuser
    assert not operator.groups.exists()
    assert (
        operator.user_permissions.count()
        == Permission.objects.filter(content_type__app_label__in=["auth", "accounts"]).count()
    )


def test_a_staff_user_cannot_make_a_customer_staff(operator_client, alice):
    response = operator_client.post(_change_url(alice), _user_form(alice, email="alice@example.com"))

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    assert (alice.is_staff, alice.is_superuser) == (False, False)


def test_a_staff_user_sees_the_privileges_read_only(operator_client, alice):
    body = operator_client.get(_change_url(alice)).content.decode()

    assert 'name="email"' in body
    for field in ("is_staff", "is_superuser", "groups", "user_permissions"):
        assert f'name="{field}"' not in body


def test_a_superuser_can_make_a_staff_user_superuser(admin_client, operator):
    response = admin_client.post(_change_url(operator), _user_form(operator))

    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.is_superuser and operator.is_staff


def test_a_staff_user_cannot_take_over_a_superuser(operator_client, root):
    password_url = reverse("admin:auth_user_password_change", args=[root.pk])

    change = operator_client.post(_change_url(root), _user_form(root, email="mine@example.org", is_active=""))
    password = operator_client.post(
        password_url,
        {"password1": "taken-Over-secret-9", "password2": "taken-Over-secret-9", "usable_password": "true"},
    )
    delete = operator_client.post(reverse("admin:auth_user_delete", args=[root.pk]), {"post": "yes"})

    assert (change.status_code, password.status_code, delete.status_code) == (403, 403, 403)
    root.refresh_from_db()
    assert (root.email, root.is_active) == ("root@example.org", True)
    assert root.check_password("root-password-1")


def test_a_staff_user_cannot_set_another_staff_users_password(operator_client, django_user_model):
    other = django_user_model.objects.create_user("other-op", password="other-password-1", is_staff=True)

    response = operator_client.post(
        reverse("admin:auth_user_password_change", args=[other.pk]),
        {"password1": "taken-Over-secret-9", "password2": "taken-Over-secret-9", "usable_password": "true"},
    )

    assert response.status_code == 403
    other.refresh_from_db()
    assert other.check_password("other-password-1")


def test_a_staff_user_can_still_set_a_customers_password(operator_client, alice):
    response = operator_client.post(
        reverse("admin:auth_user_password_change", args=[alice.pk]),
        {"password1": "fresh-Secret-for-7", "password2": "fresh-Secret-for-7", "usable_password": "true"},
    )

    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("fresh-Secret-for-7")


def test_a_staff_user_cannot_give_a_group_permissions(operator_client, operator):
    staff = Group.objects.create(name="staff")
    operator.groups.add(staff)
    everything = list(Permission.objects.values_list("pk", flat=True))

    change = operator_client.post(
        reverse("admin:auth_group_change", args=[staff.pk]), {"name": "staff", "permissions": everything}
    )
    add = operator_client.post(reverse("admin:auth_group_add"), {"name": "more", "permissions": everything})

    assert (change.status_code, add.status_code) == (403, 403)
    assert not staff.permissions.exists()
    assert not Group.objects.filter(name="more").exists()


def test_a_superuser_can_give_a_group_permissions(admin_client):
    staff = Group.objects.create(name="staff")
    view_store = Permission.objects.get(codename="view_store")

    response = admin_client.post(
        reverse("admin:auth_group_change", args=[staff.pk]), {"name": "staff", "permissions": [view_store.pk]}
    )

    assert response.status_code == 302
    assert list(staff.permissions.all()) == [view_store]


def test_a_staff_user_cannot_delete_a_superuser_in_bulk(operator_client, root, alice):
    response = operator_client.post(
        reverse("admin:auth_user_changelist"),
        {"action": "delete_selected", "_selected_action": [root.pk, alice.pk], "post": "yes"},
    )

    assert response.status_code == 403
    assert type(root).objects.filter(pk__in=[root.pk, alice.pk]).count() == 2
