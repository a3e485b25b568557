"""`manage.py stores create|delete|retry`: entries name the OS user and host, not a Django user."""

import io
import os
import pwd
import socket

import pytest
from django.core.management import CommandError, call_command

from audit import log
from audit.models import Action, AuditEntry, Channel, Outcome
from audit.tests.helpers import only_entry, summary
from stores import lifecycle, tasks
from stores.models import Status, Store

pytestmark = pytest.mark.django_db

OS_USER = pwd.getpwuid(os.getuid()).pw_name


def _run(*args) -> str:
    out = io.StringIO()
    call_command("stores", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def no_sudo(monkeypatch, tmp_path):
    """Run as if logged in as the process's own account (CI may run under sudo)."""
    loginuid = tmp_path / "loginuid"
    loginuid.write_text(str(os.getuid()))
    monkeypatch.setattr(log, "LOGINUID_PATH", loginuid)


def test_it_records_a_create_with_the_os_user_and_host(alice, sync_tasks, fake_cluster, settings, no_sudo):
    settings.CHECK_STORE_URL = False

    _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "acme")

    store = Store.objects.get(slug="acme")
    entry = only_entry()
    assert (entry.action, entry.outcome, entry.channel) == (Action.CREATE, Outcome.DONE, Channel.MANAGE_PY)
    assert (entry.os_user, entry.host) == (OS_USER, socket.gethostname())
    # The owner named on the command line is not who ran it.
    assert (entry.user, entry.username) == (None, "")
    assert (entry.store, entry.store_slug, entry.engine) == (store, "acme", "woocommerce")
    assert (entry.ip, entry.user_agent) == (None, "")
    assert entry.who == f"{OS_USER}@{socket.gethostname()}"


def test_it_records_a_delete(alice, no_sudo):
    lifecycle.create_store(alice, "acme", "woocommerce")

    _run("delete", "acme")

    assert Store.objects.get(slug="acme").status == Status.DELETING
    assert summary() == [(Action.DELETE, Outcome.DONE, f"{OS_USER}@{socket.gethostname()}", "acme")]


def test_it_records_a_retry(alice, no_sudo):
    store = lifecycle.create_store(alice, "broken", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.FAILED, failure_reason="boom")

    _run("retry", "broken")

    assert Store.objects.get(pk=store.pk).status == Status.QUEUED

    assert summary() == [(Action.RETRY, Outcome.DONE, f"{OS_USER}@{socket.gethostname()}", "broken")]


def test_it_records_nothing_when_the_command_refuses(alice):
    lifecycle.create_store(alice, "fine", "woocommerce")

    with pytest.raises(CommandError):
        _run("retry", "fine")
    with pytest.raises(CommandError):
        _run("create", "--owner", "alice", "--engine", "woocommerce", "--name", "fine")

    # An operator's shell is not an attack surface worth a row per typo.
    assert summary() == []


def test_it_ignores_sudo_user_from_the_environment(monkeypatch, tmp_path):
    # Anyone can set SUDO_USER; the kernel's login uid cannot be set by the caller.
    monkeypatch.setenv("SUDO_USER", "carol")
    unset = tmp_path / "loginuid"
    unset.write_text("4294967295")
    monkeypatch.setattr(log, "LOGINUID_PATH", unset)

    assert log.os_user() == OS_USER


def test_it_names_the_account_that_logged_in_before_sudo(monkeypatch, tmp_path):
    login = tmp_path / "loginuid"
    login.write_text(str(os.getuid() + 4242))
    monkeypatch.setattr(log, "LOGINUID_PATH", login)
    monkeypatch.setattr(log.pwd, "getpwuid", _passwd({os.getuid(): OS_USER, os.getuid() + 4242: "carol"}))

    assert log.os_user() == f"carol (as {OS_USER})"


def test_it_names_the_process_owner_when_the_login_uid_is_its_own_or_unreadable(monkeypatch, tmp_path):
    own = tmp_path / "loginuid"
    own.write_text(str(os.getuid()))
    monkeypatch.setattr(log, "LOGINUID_PATH", own)
    assert log.os_user() == OS_USER

    monkeypatch.setattr(log, "LOGINUID_PATH", tmp_path / "missing")
    assert log.os_user() == OS_USER


def test_it_names_a_uid_without_a_passwd_entry(monkeypatch, tmp_path):
    login = tmp_path / "loginuid"
    login.write_text("70001")
    monkeypatch.setattr(log, "LOGINUID_PATH", login)
    monkeypatch.setattr(log.pwd, "getpwuid", _passwd({os.getuid(): OS_USER}))

    assert log.os_user() == f"uid 70001 (as {OS_USER})"


def _passwd(names):
    def getpwuid(uid):
        if uid not in names:
            raise KeyError(uid)
        return pwd.struct_passwd((names[uid], "x", uid, uid, "", "/", "/bin/sh"))

    return getpwuid


def test_it_records_upgrades_rollbacks_and_a_refused_upgrade(alice, workers, settings, no_sudo):
    settings.CHECK_STORE_URL = False
    with workers():
        store = tasks.request_create(alice, "acme", "woocommerce")
    store.refresh_from_db()
    assert store.status == Status.READY
    lifecycle.create_store(alice, "waiting", "woocommerce")

    _run("upgrade", "acme")
    _run("rollback", "acme")
    with pytest.raises(CommandError, match="cannot upgrade waiting"):
        _run("upgrade", "waiting")

    who = f"{OS_USER}@{socket.gethostname()}"
    assert summary() == [
        (Action.UPGRADE, Outcome.DONE, who, "acme"),
        (Action.ROLLBACK, Outcome.DONE, who, "acme"),
        (Action.UPGRADE, Outcome.REFUSED, who, "waiting"),
    ]
    assert "queued" in AuditEntry.objects.get(outcome=Outcome.REFUSED).detail
