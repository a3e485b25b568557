"""A lease records its holder (host, process id, process start time): a holder on
this host whose process is gone is taken over at once; a live holder, or one on
another host, keeps the lease until it runs out."""

import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.signals import post_spawn

from stores import leaseholder, lifecycle, tasks
from stores.models import Status, Store, StoreEvent


def _running_process() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


@pytest.fixture
def live_process():
    proc = _running_process()
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def gone_process() -> leaseholder.Holder:
    """A process that ran on this host and was killed (SIGKILL), as it was while it ran."""
    proc = _running_process()
    holder = leaseholder.Holder(leaseholder.this_host(), proc.pid, leaseholder.start_time(proc.pid))
    assert holder.started is not None
    proc.kill()
    proc.wait()
    return holder


def _held_by(store, holder: leaseholder.Holder, *, seconds: int = 60) -> None:
    """The store's lease, taken by `holder` (token "killed-worker") and running for `seconds` more."""
    Store.objects.filter(pk=store.pk).update(
        lease_token="killed-worker", lease_until=timezone.now() + timedelta(seconds=seconds), **holder.fields()
    )


def _holder_of(store) -> tuple:
    return tuple(Store.objects.filter(pk=store.pk).values_list("lease_token", "lease_host", "lease_pid").get())


@pytest.mark.django_db
def test_a_lease_records_its_holder(store):
    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    store.refresh_from_db()
    assert (store.lease_token, store.lease_host, store.lease_pid) == (token, leaseholder.this_host(), os.getpid())
    assert store.lease_pid_started == leaseholder.start_time(os.getpid()) is not None


@pytest.mark.django_db
def test_a_gone_holder_on_this_host_is_taken_over_at_once(store, gone_process):
    _held_by(store, gone_process)

    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)

    assert token is not None
    assert _holder_of(store) == (token, leaseholder.this_host(), os.getpid())
    message = f"Its worker (process {gone_process.pid} on this host) is gone; taking over."
    assert StoreEvent.objects.filter(store=store, message=message).exists()


@pytest.mark.django_db
def test_a_holder_whose_process_id_was_reused_is_taken_over(store):
    # The process id is there, but its process started at another time: not the holder.
    me = leaseholder.this_process()
    _held_by(store, leaseholder.Holder(me.host, me.pid, me.started + 1))

    assert lifecycle.take_lease(store.pk, Status.PROVISIONING) is not None


@pytest.mark.django_db
def test_a_live_holder_keeps_its_lease(store, live_process):
    _held_by(
        store, leaseholder.Holder(leaseholder.this_host(), live_process.pid, leaseholder.start_time(live_process.pid))
    )

    assert lifecycle.take_lease(store.pk, Status.PROVISIONING) is None
    assert _holder_of(store)[0] == "killed-worker"
    # A holder in this very process is live too.
    Store.objects.filter(pk=store.pk).update(lease_token="", lease_until=None)
    assert lifecycle.take_lease(store.pk, Status.PROVISIONING) is not None
    assert lifecycle.take_lease(store.pk, Status.PROVISIONING) is None


@pytest.mark.django_db
def test_a_holder_on_another_host_is_waited_for_until_its_lease_runs_out(store, gone_process):
    elsewhere = leaseholder.Holder("other-host boot=1 pid:[4026531836]", gone_process.pid, gone_process.started)
    _held_by(store, elsewhere)

    assert lifecycle.take_lease(store.pk, Status.PROVISIONING) is None
    assert tasks.reconcile()["resumed"] == []

    Store.objects.filter(pk=store.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert lifecycle.take_lease(store.pk, Status.PROVISIONING) is not None


@pytest.mark.django_db
def test_of_two_workers_only_one_takes_over_a_gone_holder(store, gone_process, monkeypatch):
    """The take-over is conditional on the gone holder's token: a worker that took
    the lease between another's look and its update keeps it."""
    _held_by(store, gone_process)
    real_holder_gone = lifecycle.holder_gone
    second: list[str | None] = []

    def first_looks_then_the_second_takes_it(**lease):
        gone = real_holder_gone(**lease)
        if not second:
            monkeypatch.setattr(lifecycle, "holder_gone", real_holder_gone)  # the second worker looks as usual
            second.append(lifecycle.take_lease(store.pk, Status.PROVISIONING))
        return gone

    monkeypatch.setattr(lifecycle, "holder_gone", first_looks_then_the_second_takes_it)
    first = lifecycle.take_lease(store.pk, Status.PROVISIONING)

    assert first is None and second[0] is not None
    assert _holder_of(store)[0] == second[0]
    assert StoreEvent.objects.filter(store=store, message__endswith="taking over.").count() == 1


@pytest.mark.django_db
def test_a_killed_process_not_yet_reaped_is_gone(live_process):
    started = leaseholder.start_time(live_process.pid)
    assert not leaseholder.is_gone(leaseholder.this_host(), live_process.pid, started)
    live_process.kill()
    os.waitid(os.P_PID, live_process.pid, os.WEXITED | os.WNOWAIT)  # exited, still a zombie
    assert leaseholder.is_gone(leaseholder.this_host(), live_process.pid, started)


def test_nothing_unknown_is_taken_for_gone():
    assert not leaseholder.is_gone("", 123456789, None)
    assert not leaseholder.is_gone(leaseholder.this_host(), None, None)
    assert not leaseholder.is_gone(leaseholder.this_host(), 0, None)
    me = leaseholder.this_process()
    assert not leaseholder.is_gone(me.host, me.pid, me.started)


@pytest.mark.django_db
def test_reconcile_resumes_at_once_a_provision_whose_worker_was_killed_on_this_host(
    fake_cluster, store, gone_process, sync_tasks, settings, django_capture_on_commit_callbacks
):
    settings.CHECK_STORE_URL = False
    _held_by(store, gone_process)  # its lease still has 60 s to run
    with django_capture_on_commit_callbacks(execute=True):
        report = tasks.reconcile()
    store.refresh_from_db()
    assert report["resumed"] == [store.pk]
    assert store.status == Status.READY
    assert list(fake_cluster.namespaces) == ["store-acme"]
    assert StoreEvent.objects.filter(
        store=store, message=f"Its worker (process {gone_process.pid} on this host) is gone; resuming provisioning."
    ).exists()


@pytest.mark.django_db
def test_reconcile_leaves_a_live_worker_alone(store, live_process, monkeypatch):
    enqueued = []
    monkeypatch.setattr(tasks, "enqueue_provision", enqueued.append)
    _held_by(
        store, leaseholder.Holder(leaseholder.this_host(), live_process.pid, leaseholder.start_time(live_process.pid))
    )
    assert tasks.reconcile()["resumed"] == []
    assert enqueued == [] and _holder_of(store)[0] == "killed-worker"


@pytest.mark.django_db
def test_a_delete_does_not_wait_for_a_cancelled_provision_whose_worker_was_killed(store, gone_process):
    _held_by(store, gone_process)
    lifecycle.request_delete(store.pk)
    assert not lifecycle.provision_still_running(store.pk)
    assert lifecycle.take_lease(store.pk, Status.DELETING) is not None


@pytest.mark.django_db
def test_reconcile_fails_at_once_an_update_whose_command_was_killed_on_this_host(alice, gone_process, live_process):
    killed = Store.objects.create(owner=alice, slug="killed", engine="woocommerce", status=Status.UPDATING)
    running = Store.objects.create(owner=alice, slug="running", engine="woocommerce", status=Status.UPDATING)
    _held_by(killed, gone_process)
    _held_by(
        running, leaseholder.Holder(leaseholder.this_host(), live_process.pid, leaseholder.start_time(live_process.pid))
    )

    assert tasks.reconcile()["update_failed"] == [killed.pk]

    assert Store.objects.get(pk=killed.pk).status == Status.FAILED
    assert Store.objects.get(pk=running.pk).status == Status.UPDATING


def test_a_worker_that_starts_asks_the_control_queue_for_a_reconcile(monkeypatch, settings):
    enqueued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, **kwargs: enqueued.append((func, kwargs["cluster"])))
    post_spawn.send(sender="django_q", proc_name="Process-1")
    assert enqueued == [("stores.tasks.reconcile", settings.CONTROL_QUEUE)]


@pytest.mark.django_db
def test_a_task_run_in_process_asks_for_no_reconcile(sync_tasks, monkeypatch, caplog):
    # In sync mode each task runs a worker in the enqueuing process, and that
    # worker sends post_spawn too: enqueueing there would recurse without end.
    from django_q.tasks import async_task, result

    enqueued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, **kwargs: enqueued.append(func))
    task_id = async_task("math.floor", 2.5)
    assert result(task_id) == 2
    assert enqueued == []
    assert "could not enqueue a reconcile" not in caplog.text
