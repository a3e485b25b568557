"""The owner's email when a store becomes ready or fails, sent after the transition commits."""

import pytest
from django.core import mail

from stores import cluster, lifecycle, notifications, tasks
from stores.cluster.errors import FailureCode
from stores.failure_hints import FAILURE_HINTS
from stores.models import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def claimed_store(alice, settings):
    settings.CHECK_STORE_URL = False
    settings.SITE_URL = "https://provisioner.example.com/"
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    assert lifecycle.claim_provision_slots() == [store.pk]
    return store


def test_it_emails_the_owner_when_the_store_is_ready(
    fake_cluster, claimed_store, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        tasks.provision(claimed_store.pk)

    claimed_store.refresh_from_db()
    assert claimed_store.status == Status.READY
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["alice@example.org"]
    assert message.subject == "Your store acme is ready"
    assert "Your WooCommerce store acme is ready." in message.body
    assert "Storefront: http://store-acme.127.0.0.1.nip.io" in message.body
    assert f"https://provisioner.example.com/stores/{claimed_store.pk}/" in message.body


def test_it_emails_the_owner_the_reason_when_the_store_fails(
    fake_cluster, claimed_store, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    fake_cluster.wait_error = cluster.WorkloadFailed(
        "pod store-wordpress-x: ErrImagePull: not found", FailureCode.IMAGE
    )

    with django_capture_on_commit_callbacks(execute=True):
        tasks.provision(claimed_store.pk)

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["alice@example.org"]
    assert message.subject == "Your store acme failed"
    assert "Reason: pod store-wordpress-x: ErrImagePull: not found" in message.body
    # What to do, chosen by the failure's code.
    assert FAILURE_HINTS[FailureCode.IMAGE] in message.body
    assert f"https://provisioner.example.com/stores/{claimed_store.pk}/" in message.body


def test_it_sends_nothing_before_the_transition_commits(
    fake_cluster, claimed_store, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tasks.provision(claimed_store.pk)

    assert mailoutbox == []
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1


def test_it_sends_one_mail_for_one_transition(
    fake_cluster, claimed_store, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    fake_cluster.wait_error = cluster.WorkloadFailed("job store-setup failed: BackoffLimitExceeded: boom")

    with django_capture_on_commit_callbacks(execute=True):
        tasks.provision(claimed_store.pk)
        # The same task delivered again, and a reconcile that also finds the store: neither
        # makes a transition, so neither mails.
        tasks.provision(claimed_store.pk)
        with pytest.raises(lifecycle.TransitionRefused):
            lifecycle.mark_failed(claimed_store.pk, "timed out while helm release", code=FailureCode.TIMEOUT)

    assert [m.subject for m in mailoutbox] == ["Your store acme failed"]


def test_it_mails_again_for_a_retry_that_ends_ready(
    fake_cluster, claimed_store, sync_tasks, mailoutbox, django_capture_on_commit_callbacks
):
    fake_cluster.wait_error = cluster.WorkloadFailed("pod store-wordpress-x: CrashLoopBackOff: exit 1")
    with django_capture_on_commit_callbacks(execute=True):
        tasks.provision(claimed_store.pk)
    fake_cluster.wait_error = None

    with django_capture_on_commit_callbacks(execute=True):
        tasks.request_retry(claimed_store.pk)  # runs the provision in-process (sync tasks)

    claimed_store.refresh_from_db()
    assert claimed_store.status == Status.READY
    assert [m.subject for m in mailoutbox] == ["Your store acme failed", "Your store acme is ready"]


def test_it_skips_an_owner_without_an_address(
    fake_cluster, claimed_store, alice, sync_tasks, mailoutbox, django_capture_on_commit_callbacks, caplog
):
    alice.email = ""
    alice.save()

    with caplog.at_level("INFO", logger="stores.notifications"):
        with django_capture_on_commit_callbacks(execute=True):
            tasks.provision(claimed_store.pk)

    claimed_store.refresh_from_db()
    assert claimed_store.status == Status.READY
    assert mailoutbox == []
    assert "owner alice has no email address; no ready mail" in caplog.text


def test_it_keeps_the_store_ready_when_the_mail_cannot_be_sent(
    fake_cluster, claimed_store, sync_tasks, mailoutbox, django_capture_on_commit_callbacks, monkeypatch, caplog
):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(notifications, "send_mail", refuse)

    with django_capture_on_commit_callbacks(execute=True):
        tasks.provision(claimed_store.pk)

    claimed_store.refresh_from_db()
    assert claimed_store.status == Status.READY
    assert "could not send the ready mail to the owner" in caplog.text


def test_it_queues_the_mail_on_the_control_cluster(fake_cluster, claimed_store, django_capture_on_commit_callbacks):
    from django.conf import settings
    from django_q.models import OrmQ

    with django_capture_on_commit_callbacks(execute=True):
        tasks.provision(claimed_store.pk)

    queued = [(q.task["name"], q.key) for q in OrmQ.objects.all() if q.task["name"].startswith("notify-")]
    assert queued == [(f"notify-store-{claimed_store.pk}-ready", settings.CONTROL_QUEUE)]
    assert mail.outbox == []  # the worker that made the transition sends nothing itself


def test_it_prints_mails_without_a_mail_server_and_uses_smtp_with_one(tmp_path):
    from provisioner.tests.settings_probe import settings_json as _settings_json

    expression = "[settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS]"
    assert _settings_json(expression, VAR_DIR=str(tmp_path)) == [
        "django.core.mail.backends.console.EmailBackend",
        "",
        587,
        True,
    ]
    assert _settings_json(expression, VAR_DIR=str(tmp_path), EMAIL_HOST="smtp.example.com", EMAIL_PORT="465") == [
        "django.core.mail.backends.smtp.EmailBackend",
        "smtp.example.com",
        465,
        False,
    ]
