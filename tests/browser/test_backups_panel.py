"""Backups as the owner sees them, in a real browser: the store page's panel, the restore
confirmation, and a deleted store's final backup on the dashboard; axe-core finds nothing
serious on any of them.

The backups are rows in the database (the Jobs that make them run for real in
tests/realnode/); what is under test is how the pages say it. The platform runs
with an object store configured (the session's SeaweedFS), so backups are on.
Screenshots land in artifacts/screenshots/backups-*.png.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from stores import lifecycle
from stores.models import Backup, Status, Store
from tests.axe import blocking, violations
from tests.chromium import screenshot
from tests.platform import Platform

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-pass-phrase-9"


@pytest.fixture
def server(local_cluster, store_settings, object_store):
    config = object_store.config
    platform = Platform(
        connection.settings_dict,
        KUBECONFIG=str(local_cluster.kubeconfig),
        HELM_BIN=str(local_cluster.helm),
        BACKUP_S3_ENDPOINT=config.endpoint,
        BACKUP_S3_ACCESS_KEY_ID=config.access_key_id,
        BACKUP_S3_SECRET_ACCESS_KEY=config.secret_access_key,
    )
    url = platform.start_web()
    yield url
    platform.stop()


def _backup(store, kind, hours_ago, **fields):
    return Backup.objects.create(
        store=store, kind=kind, created_at=timezone.now() - timedelta(hours=hours_ago), **fields
    )


def _log_in(page, server, username):
    page.goto(f"{server}/accounts/login/?next=/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")


def test_the_store_page_lists_backups_and_a_restore_asks_first_naming_the_time(server, page, django_user_model):
    owner = django_user_model.objects.create_user("nia", "nia@example.org", PASSWORD)
    store = lifecycle.create_store(owner, "tea-corner", "woocommerce")
    Store.objects.filter(pk=store.pk).update(status=Status.READY, attempts=1, ready_at=timezone.now())
    done = {"state": Backup.State.DONE, "size_bytes": 12_345_678}
    _backup(store, Backup.Kind.NIGHTLY, 50, **done)
    _backup(store, Backup.Kind.NIGHTLY, 26, state=Backup.State.FAILED, error="step database exited with 2")
    nightly = _backup(store, Backup.Kind.NIGHTLY, 2, **done)
    _backup(store, Backup.Kind.MANUAL, 0.2, **{**done, "size_bytes": 12_401_022})

    _log_in(page, server, "nia")
    page.goto(f"{server}/stores/{store.pk}/")
    panel = page.locator("section.backups")
    expect(panel.locator("h2")).to_have_text("Backups")
    expect(panel.get_by_role("button", name="Back up now")).to_be_visible()
    expect(panel.locator(".backup-last")).to_contain_text("Last backup: Done")
    expect(panel.locator(".backup-last")).to_contain_text("12.4 MB")
    expect(panel.locator("tr.backup-row")).to_have_count(4)
    expect(panel.locator("tr.backup-failed")).to_contain_text("failed")
    expect(panel.locator("tr.backup-done").first).to_contain_text("Manual")
    expect(panel.get_by_role("link", name="Restore…")).to_have_count(3)
    expect(panel.locator(".help")).to_contain_text("Nightly between 01:00 and 05:00 UTC")
    panel.scroll_into_view_if_needed()
    screenshot(page, "backups-panel")
    assert blocking(violations(page)) == []

    # The confirmation names the backup's time; Cancel goes back and changes nothing.
    panel.locator("tr.backup-row").nth(1).get_by_role("link", name="Restore…").click()
    when = timezone.localtime(nightly.created_at)
    expect(page.locator("h1")).to_have_text(f"Restore “tea-corner” to {when:%b} {when.day}, {when:%Y, %H:%M}?")
    expect(page.locator("main")).to_contain_text("nightly backup of")
    expect(page.locator("main")).to_contain_text("12.3 MB")
    expect(page.get_by_role("button", name="Restore this backup")).to_be_enabled()
    screenshot(page, "backups-restore-confirmation")
    assert blocking(violations(page)) == []
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(f"{server}/stores/{store.pk}/")
    assert Store.objects.get(pk=store.pk).status == Status.READY


def test_a_deleted_stores_final_backup_is_offered_for_a_new_store(server, page, django_user_model):
    owner = django_user_model.objects.create_user("omar", "omar@example.org", PASSWORD)
    gone = lifecycle.create_store(owner, "old-records", "medusa")
    Store.objects.filter(pk=gone.pk).update(status=Status.DELETED, attempts=1, deleted_at=timezone.now())
    _backup(
        gone,
        Backup.Kind.FINAL,
        1,
        state=Backup.State.DONE,
        size_bytes=3_200_000,
        keep_until=timezone.now() + timedelta(days=29),
    )

    _log_in(page, server, "omar")
    section = page.locator("section.recently-deleted")
    expect(section.locator("h2")).to_have_text("Recently deleted")
    expect(section).to_contain_text("old-records")
    screenshot(page, "backups-recently-deleted")
    assert blocking(violations(page)) == []
    section.get_by_role("link", name="Restore…").click()
    expect(page.locator("h1")).to_have_text("Restore “old-records” into a new store")
    expect(page.locator("#id_name")).to_have_value("old-records")
    page.fill("#id_name", "Old Records!")
    page.get_by_role("button", name="Restore into a new store").click()
    expect(page.locator(".field-error")).to_contain_text("Use lowercase letters")
    screenshot(page, "backups-restore-into-new-store")
    assert blocking(violations(page)) == []
    assert not Store.objects.live().filter(owner=owner).exists()
