"""django-q2's admin pages: superusers only, whatever permissions a staff user holds."""

import uuid

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django_q.models import Failure, OrmQ

pytestmark = pytest.mark.django_db

PAGES = [
    "admin:django_q_schedule_changelist",
    "admin:django_q_schedule_add",
    "admin:django_q_success_changelist",
    "admin:django_q_failure_changelist",
    "admin:django_q_ormq_changelist",
]


@pytest.fixture
def operator(client, django_user_model):
    """Staff, with every permission django_q has (add, change, delete, view on each model)."""
    user = django_user_model.objects.create_user("operator", password="operator-password-1", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="django_q"))
    assert user.has_perm("django_q.add_schedule") and user.has_perm("django_q.change_failure")
    client.force_login(user)
    return client


@pytest.fixture
def failed_task():
    now = timezone.now()
    return Failure.objects.create(
        id=uuid.uuid4().hex, name="failed-task", func="math.floor", args=(1.5,), started=now, stopped=now, success=False
    )


def _resubmit(client, task):
    return client.post(
        reverse("admin:django_q_failure_changelist"),
        {"action": "resubmit_task", "_selected_action": [task.pk], "index": 0},
    )


@pytest.mark.parametrize("page", PAGES)
def test_it_refuses_a_staff_user_with_every_task_queue_permission(operator, page):
    assert operator.get(reverse(page)).status_code == 403


def test_it_refuses_to_add_a_schedule_for_a_staff_user(operator):
    response = operator.post(
        reverse("admin:django_q_schedule_add"),
        {"name": "x", "func": "os.system", "args": "'id'", "schedule_type": "O", "repeats": -1},
    )

    assert response.status_code == 403
    from django_q.models import Schedule

    assert not Schedule.objects.filter(name="x").exists()


def test_it_refuses_a_staff_user_the_resubmit_action(operator, failed_task):
    response = _resubmit(operator, failed_task)

    assert response.status_code == 403
    assert not OrmQ.objects.exists()
    assert Failure.objects.filter(pk=failed_task.pk).exists()


def test_it_hides_the_task_queue_from_a_staff_users_index(operator):
    response = operator.get(reverse("admin:index"))

    assert response.status_code == 200
    assert "django_q" not in {app["app_label"] for app in response.context["app_list"]}


@pytest.mark.parametrize("page", PAGES)
def test_it_shows_the_pages_to_a_superuser(admin_client, page):
    assert admin_client.get(reverse(page)).status_code == 200


def test_it_lets_a_superuser_resubmit_a_failed_task(admin_client, failed_task):
    response = _resubmit(admin_client, failed_task)

    assert response.status_code == 302
    assert OrmQ.objects.count() == 1
    assert not Failure.objects.filter(pk=failed_task.pk).exists()
