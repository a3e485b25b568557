"""Backups and restores (stores/backups/), from the platform's side, against a real
object store (SeaweedFS, tests/objectstore.py) with the cluster faked at its boundary.

The fake cluster does what a Job would do with the objects: when the platform
creates a backup or restore Job, the Job's own transfer step (its script, its
environment with the signed URLs) runs here for real, with curl, against the
object store; the database and files steps are stood in for by files of known
content. The scripts' database and files steps run for real in tests/backups/.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry, Outcome
from stores import cluster, isolation, lifecycle, tasks
from stores.backups import jobs, nightly, service
from stores.cluster.guardrails import BACKUP_POLICIES, network_policies
from stores.models import Backup, EventCode, Status, Store, StoreEvent

pytestmark = pytest.mark.django_db

DUMP = b"-- MariaDB dump of a shop\nINSERT INTO wp_posts VALUES (1,'Order A');\n" * 50
ARCHIVE = b"\x1f\x8b uploads archive " * 100


def _templates(engine: str) -> dict:
    """The pod templates a store of the engine runs, as far as its backup reads them."""
    secret = {"secretKeyRef": {"name": "store-secret", "key": "db-password"}}
    if engine == "woocommerce":
        return {
            "mariadb": {
                "metadata": {"labels": {"app.kubernetes.io/component": "mariadb"}},
                "spec": {
                    "containers": [
                        {
                            "name": "mariadb",
                            "image": "docker.io/library/mariadb:11.8.8",
                            "env": [
                                {"name": "MARIADB_USER", "value": "wordpress"},
                                {"name": "MARIADB_DATABASE", "value": "wordpress"},
                                {"name": "MARIADB_PASSWORD", "valueFrom": secret},
                            ],
                            "securityContext": {"runAsUser": 999},
                        }
                    ]
                },
            },
            "wordpress": {
                "metadata": {"labels": {"app.kubernetes.io/component": "wordpress"}},
                "spec": {
                    "securityContext": {"fsGroup": 33},
                    "containers": [
                        {
                            "name": "wordpress",
                            "image": "docker.io/library/wordpress:7.1.0-php8.3-apache",
                            "volumeMounts": [{"name": "content", "mountPath": "/var/www/html", "subPath": "html"}],
                        }
                    ],
                    "volumes": [{"name": "content", "persistentVolumeClaim": {"claimName": "store-wordpress"}}],
                },
            },
        }
    raise AssertionError(engine)


class JobRunner:
    """Runs each Job's transfer step for real, as its pod would, in a directory of its own;
    a step that fails fails the Job, with its output's last lines as the reason."""

    def __init__(self, kube, tmp_path: Path):
        self.kube = kube
        self.tmp_path = tmp_path
        self.ran: list[tuple[str, subprocess.CompletedProcess]] = []
        self.upload_only: set[str] | None = None  # the objects a backup uploads (None: all)

    def __call__(self, namespace: str, manifest: dict) -> None:
        spec = manifest["spec"]["template"]["spec"]
        transfer = next(c for c in [*spec["initContainers"], *spec["containers"]] if c["name"] == "transfer")
        mode = transfer["command"][-1]
        work = self.tmp_path / manifest["metadata"]["name"]
        work.mkdir()
        env = {e["name"]: e["value"] for e in transfer["env"] if "value" in e}
        env["BACKUP_DIR"] = str(work)
        names = env["BACKUP_OBJECTS"].split()
        if mode == "put":
            (work / names[0]).write_bytes(DUMP)
            (work / names[1]).write_bytes(ARCHIVE)
            if self.upload_only is not None:
                keep = [i for i, name in enumerate(names) if name in self.upload_only]
                env["BACKUP_OBJECTS"] = " ".join(names[i] for i in keep)
                urls = {i: env.pop(f"BACKUP_URL_{i}") for i in range(len(names))}
                for new, old in enumerate(keep):
                    env[f"BACKUP_URL_{new}"] = urls[old]
        result = subprocess.run(
            ["sh", "-c", transfer["command"][2], "transfer.sh", mode],
            env={"PATH": "/usr/bin:/bin", **env},
            # A pod's log, which a failed step's termination message is the end of, has both.
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
        )
        self.ran.append((mode, result))
        if result.returncode:
            tail = " | ".join(result.stdout.strip().splitlines()[-5:])
            outcome = cluster.JobOutcome("failed", f"step transfer exited with {result.returncode}: {tail}")
            self.kube.job_states = {**(self.kube.job_states or {}), manifest["metadata"]["name"]: outcome}


@pytest.fixture
def backups_on(settings, object_store):
    config = object_store.config
    settings.BACKUP_S3_ENDPOINT = config.endpoint
    settings.BACKUP_S3_BUCKET = config.bucket
    settings.BACKUP_S3_REGION = config.region
    settings.BACKUP_S3_ACCESS_KEY_ID = config.access_key_id
    settings.BACKUP_S3_SECRET_ACCESS_KEY = config.secret_access_key
    settings.CHECK_STORE_URL = False
    return object_store


@pytest.fixture
def runner(fake_cluster, tmp_path):
    run = JobRunner(fake_cluster, tmp_path)
    fake_cluster.job_created = run
    return run


@pytest.fixture
def ready(alice, fake_cluster):
    store = lifecycle.create_store(alice, "acme-backups", "woocommerce")
    Store.objects.filter(pk=store.pk).update(
        status=Status.READY, ready_at=timezone.now(), attempts=1, chart_version="0.2.0", images=["wordpress:7.1.0"]
    )
    fake_cluster.templates = {store.namespace: _templates("woocommerce")}
    return Store.objects.get(pk=store.pk)


def _objects(object_store, backup: Backup) -> dict[str, int | None]:
    return {name: object_store.size(backup.key_prefix + name) for name in object_store.keys(backup.key_prefix)}


# --- backing up --------------------------------------------------------------------


def test_a_backup_uploads_the_jobs_objects_and_the_platform_writes_their_manifest(
    backups_on, runner, fake_cluster, ready
):
    outcome = service.run(ready, Backup.Kind.MANUAL)

    backup = outcome.backup
    assert backup.state == Backup.State.DONE, backup.error
    names = [jobs.DATABASE_OBJECTS["mariadb"], jobs.FILES_OBJECT, jobs.SUMS_OBJECT, service.MANIFEST]
    assert sorted(backups_on.keys(backup.key_prefix)) == sorted(backup.key_prefix + n for n in names)
    manifest = json.loads(backups_on.read(backup.key_prefix + service.MANIFEST))
    assert manifest == backup.manifest
    assert manifest["engine"] == "woocommerce" and manifest["chart_version"] == "0.2.0"
    assert manifest["images"] == ["wordpress:7.1.0"]
    assert manifest["objects"]["database.sql.gz"] == {"size": len(DUMP), "sha256": hashlib.sha256(DUMP).hexdigest()}
    assert manifest["objects"]["files.tar.gz"]["sha256"] == hashlib.sha256(ARCHIVE).hexdigest()
    assert backup.size_bytes == sum(o["size"] for o in manifest["objects"].values())
    codes = list(ready.events.values_list("code", flat=True))
    assert codes[-2:] == [EventCode.BACKUP_STARTED, EventCode.BACKED_UP]
    # The way out for the Job was opened first, to the object store's address only.
    kinds = [call[0] for call in fake_cluster.calls]
    assert kinds.index("apply_guardrails") < kinds.index("create_job")


def test_the_job_gets_urls_signed_for_its_own_objects_only(backups_on, runner, fake_cluster, ready, alice):
    other = lifecycle.create_store(alice, "other-shop", "woocommerce")
    secret = backups_on.presign_get(f"stores/{other.pk}/backups/1/{service.MANIFEST}", 60)
    backups_on.write(f"stores/{other.pk}/backups/1/{service.MANIFEST}", b"{}")
    assert urllib.request.urlopen(secret).read() == b"{}"  # noqa: S310 (the test's own object store)

    backup = service.run(ready, Backup.Kind.MANUAL).backup
    manifest = fake_cluster.jobs[(ready.namespace, backup.job_name)]
    env = {e["name"]: e.get("value") for c in manifest["spec"]["template"]["spec"]["containers"] for e in c["env"]}
    urls = [env[f"BACKUP_URL_{i}"] for i in range(3)]
    assert all(f"/stores/{ready.pk}/backups/{backup.pk}/" in url for url in urls)
    # The same signature, for the other store's object: refused.
    ours = f"/stores/{ready.pk}/backups/{backup.pk}/database.sql.gz"
    assert ours in urls[0]
    stolen = urls[0].replace(ours, f"/stores/{other.pk}/backups/1/{service.MANIFEST}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(stolen)  # noqa: S310 (the test's own object store)
    assert refused.value.code == 403


def test_a_failed_job_fails_the_backup_removes_what_it_wrote_and_mails_the_owner(
    backups_on, runner, fake_cluster, ready, django_capture_on_commit_callbacks, sync_tasks
):
    fake_cluster.job_default = cluster.JobOutcome(
        "failed", "step database exited with 2: Access denied for user 'wordpress'"
    )
    runner.upload_only = {"files.tar.gz"}
    with django_capture_on_commit_callbacks(execute=True):
        backup = service.run(ready, Backup.Kind.MANUAL).backup

    assert backup.state == Backup.State.FAILED
    assert "Access denied" in backup.error
    assert backups_on.keys(backup.key_prefix) == []
    event = ready.events.get(code=EventCode.BACKUP_FAILED)
    assert event.kind == StoreEvent.Kind.ERROR and "Access denied" in event.message
    assert [m.subject for m in mail.outbox] == ["A backup of your store acme-backups failed"]


def test_a_job_that_succeeded_without_uploading_everything_fails_the_backup(backups_on, runner, ready):
    runner.upload_only = {"database.sql.gz", "SHA256SUMS"}
    backup = service.run(ready, Backup.Kind.MANUAL).backup
    assert backup.state == Backup.State.FAILED
    assert backup.error == "its Job ended without uploading files.tar.gz"


def test_a_second_backup_while_one_runs_is_refused(backups_on, fake_cluster, ready):
    fake_cluster.job_default = cluster.JobOutcome("running")
    first = service.start(ready, Backup.Kind.MANUAL)
    assert first.state == Backup.State.RUNNING
    with pytest.raises(service.Refused, match="already running"):
        service.start(ready, Backup.Kind.MANUAL)
    assert Backup.objects.count() == 1


@pytest.mark.parametrize("status", [Status.QUEUED, Status.FAILED, Status.UPDATING, Status.LOST])
def test_only_a_ready_store_is_backed_up(backups_on, fake_cluster, ready, status):
    Store.objects.filter(pk=ready.pk).update(status=status)
    with pytest.raises(service.Refused, match="must be ready"):
        service.start(Store.objects.get(pk=ready.pk), Backup.Kind.MANUAL)
    assert not Backup.objects.exists() and not fake_cluster.jobs


def test_without_an_object_store_backups_are_off_and_say_so(settings, fake_cluster, ready):
    settings.BACKUP_S3_ENDPOINT = ""
    with pytest.raises(service.Refused, match="no object store"):
        service.start(ready, Backup.Kind.MANUAL)
    assert not any(p["metadata"]["name"] in BACKUP_POLICIES for p in network_policies(cluster.GuardrailSpec()))


def test_an_unreachable_object_store_fails_the_backup_with_its_address(settings, fake_cluster, ready):
    settings.BACKUP_S3_ENDPOINT = "http://127.0.0.1:9"
    settings.BACKUP_S3_ACCESS_KEY_ID, settings.BACKUP_S3_SECRET_ACCESS_KEY = "k", "s"
    backup = service.run(ready, Backup.Kind.MANUAL).backup
    assert backup.state == Backup.State.FAILED
    assert "127.0.0.1:9" in backup.error
    assert not fake_cluster.jobs


def test_the_newest_backups_are_kept_and_older_ones_removed_final_ones_by_their_date(
    backups_on, runner, ready, settings
):
    settings.BACKUP_KEEP = 2
    made = [service.run(ready, Backup.Kind.MANUAL).backup for _ in range(3)]
    assert [b.state for b in made] == [Backup.State.DONE] * 3
    oldest = Backup.objects.get(pk=made[0].pk)
    assert oldest.removed_at is not None and backups_on.keys(oldest.key_prefix) == []
    assert all(backups_on.keys(b.key_prefix) for b in made[1:])
    assert not oldest.restorable

    final = Backup.objects.create(
        store=ready, kind=Backup.Kind.FINAL, state=Backup.State.DONE, keep_until=timezone.now() - timedelta(days=1)
    )
    backups_on.write(final.key_prefix + service.MANIFEST, b"{}")
    assert service.expire_final_backups() == [final.pk]
    assert backups_on.keys(final.key_prefix) == []


# --- the nightly round -------------------------------------------------------------


def test_a_thousand_stores_spread_over_the_night(settings):
    settings.BACKUP_NIGHT_HOURS = 4
    per_minute: dict[int, int] = {}
    for store_id in range(1, 1001):
        minute = nightly.slot_minute(store_id)
        assert 0 <= minute < 240
        per_minute[minute] = per_minute.get(minute, 0) + 1
    # 1000 stores in 240 minutes: about 4 a minute, never a crowd.
    assert len(per_minute) > 200
    assert max(per_minute.values()) <= 10


def test_the_round_starts_due_stores_up_to_the_limit_and_finishes_nightly_ones(
    backups_on, runner, fake_cluster, alice, settings
):
    settings.BACKUP_JOBS_AT_ONCE = 2
    settings.BACKUP_NIGHT_START_HOUR, settings.BACKUP_NIGHT_HOURS = 1, 4
    settings.MAX_STORES_PER_USER = 10
    stores = []
    for i in range(3):
        store = lifecycle.create_store(alice, f"night-{i}", "woocommerce")
        Store.objects.filter(pk=store.pk).update(status=Status.READY, ready_at=timezone.now() - timedelta(days=3))
        fake_cluster.templates = {**(fake_cluster.templates or {}), store.namespace: _templates("woocommerce")}
        stores.append(store)
    # Last night's window, whatever the hour: backups made now are made since it began.
    night = (timezone.now() - timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    at_end = night + timedelta(hours=3, minutes=59)
    # Running: the Jobs have not ended yet.
    fake_cluster.job_default = cluster.JobOutcome("running")

    first = nightly.run_round(at_end)
    assert len(first.started) == 2 and first.finished == []
    assert nightly.run_round(at_end).started == []  # no free Job

    fake_cluster.job_default = None
    second = nightly.run_round(at_end)
    assert sorted(second.finished) == sorted(first.started)
    assert len(second.started) == 1
    assert nightly.run_round(at_end + timedelta(minutes=1)).started == []  # each once a night
    assert Backup.objects.filter(state=Backup.State.DONE, kind=Backup.Kind.NIGHTLY).count() == 3
    # After the window: every store has had its backup, so nothing starts.
    assert nightly.run_round(night + timedelta(hours=5)).started == []


def test_a_store_waits_for_its_own_minute(settings, ready):
    settings.BACKUP_NIGHT_START_HOUR, settings.BACKUP_NIGHT_HOURS = 1, 4
    # Last night's window, whatever the hour: backups made now are made since it began.
    night = (timezone.now() - timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    Store.objects.filter(pk=ready.pk).update(ready_at=night - timedelta(days=1))
    minute = nightly.slot_minute(ready.pk)
    assert ready not in nightly.due(night + timedelta(minutes=minute) - timedelta(seconds=1)) or minute == 0
    assert ready in nightly.due(night + timedelta(minutes=minute, seconds=1))
    # One the window ended before (too many stores for the Jobs at once) is caught up after it;
    # one made after the window waits for the next night.
    Store.objects.filter(pk=ready.pk).update(ready_at=night + timedelta(hours=4, minutes=1))
    assert ready not in nightly.due(night + timedelta(hours=6))
    Store.objects.filter(pk=ready.pk).update(ready_at=night)
    assert ready in nightly.due(night + timedelta(hours=6))
    Backup.objects.create(store=ready, kind=Backup.Kind.NIGHTLY, state=Backup.State.DONE)
    assert ready not in nightly.due(night + timedelta(hours=6))


# --- restoring ---------------------------------------------------------------------


def test_a_restore_reads_the_backup_back_restarts_and_ends_ready(backups_on, runner, fake_cluster, ready):
    backup = service.run(ready, Backup.Kind.MANUAL).backup

    store = service.restore(ready.pk, backup.pk)

    assert store.status == Status.READY, store.failure_reason
    restore_job = [name for (_, name) in fake_cluster.jobs if name.startswith("restore-")]
    assert len(restore_job) == 1
    work = runner.tmp_path / restore_job[0]
    assert (work / "database.sql.gz").read_bytes() == DUMP
    assert (work / "files.tar.gz").read_bytes() == ARCHIVE
    assert ("restart_workloads", ready.namespace, ("wordpress",)) in fake_cluster.calls
    codes = list(store.events.filter(pk__gt=0).values_list("code", flat=True))
    assert codes[-1] == EventCode.RESTORED
    assert EventCode.RESTORE_REQUESTED in codes
    statuses_seen = [c for c in codes if c in (EventCode.RESTORE_REQUESTED, EventCode.RESTORED)]
    assert statuses_seen == [EventCode.RESTORE_REQUESTED, EventCode.RESTORED]


def test_a_backup_whose_objects_were_altered_fails_the_restore(backups_on, runner, ready):
    backup = service.run(ready, Backup.Kind.MANUAL).backup
    backups_on.write(backup.key_prefix + "files.tar.gz", b"not what was backed up")

    store = service.restore(ready.pk, backup.pk)

    assert store.status == Status.FAILED
    assert "step transfer exited" in store.failure_reason
    assert "FAILED" in store.failure_reason  # sha256sum -c names the object that does not match
    assert "files.tar.gz" in store.failure_reason


def test_a_failed_restore_job_fails_the_store_with_the_reason(backups_on, runner, fake_cluster, ready):
    backup = service.run(ready, Backup.Kind.MANUAL).backup
    fake_cluster.job_created = None
    fake_cluster.job_default = cluster.JobOutcome("failed", "step database exited with 1: ERROR 1045")
    store = service.restore(ready.pk, backup.pk)
    assert store.status == Status.FAILED
    assert store.failure_reason.startswith("Restore failed:") and "ERROR 1045" in store.failure_reason
    assert store.events.filter(code=EventCode.RESTORE_FAILED).exists()


def test_a_restore_is_refused_while_a_backup_runs_and_for_another_stores_backup(backups_on, fake_cluster, ready, alice):
    fake_cluster.job_default = cluster.JobOutcome("running")
    running = service.start(ready, Backup.Kind.MANUAL)
    with pytest.raises(service.Refused, match="has no backup"):
        service.refuse_restore(ready, running.pk)  # not done
    done = Backup.objects.create(store=ready, kind=Backup.Kind.MANUAL, state=Backup.State.DONE)
    with pytest.raises(service.Refused, match="running"):
        service.refuse_restore(ready, done.pk)
    other = lifecycle.create_store(alice, "not-mine", "woocommerce")
    theirs = Backup.objects.create(store=other, kind=Backup.Kind.MANUAL, state=Backup.State.DONE)
    with pytest.raises(service.Refused, match=f"no backup {theirs.pk}"):
        service.refuse_restore(ready, theirs.pk)


# --- the store page, the dashboard, the lifecycle ----------------------------------


def test_the_store_page_lists_backups_and_back_up_now_runs_one(
    backups_on, runner, fake_cluster, ready, alice_client, workers
):
    service.run(ready, Backup.Kind.MANUAL)
    page = alice_client.get(reverse("store_detail", args=[ready.pk])).content.decode()
    assert "Back up now" in page and "Last backup:" in page and "Restore…" in page

    with workers():
        response = alice_client.post(reverse("store_backup", args=[ready.pk]))
    assert response.status_code == 302
    assert Backup.objects.filter(store=ready, state=Backup.State.DONE).count() == 2


def test_someone_elses_store_cannot_be_backed_up_or_restored(backups_on, fake_cluster, ready, bob_client):
    backup = Backup.objects.create(store=ready, kind=Backup.Kind.MANUAL, state=Backup.State.DONE)
    assert bob_client.post(reverse("store_backup", args=[ready.pk])).status_code == 404
    assert bob_client.get(reverse("store_restore", args=[ready.pk, backup.pk])).status_code == 404
    assert bob_client.post(reverse("store_restore", args=[ready.pk, backup.pk])).status_code == 404
    assert Backup.objects.count() == 1 and Store.objects.get(pk=ready.pk).status == Status.READY


def test_a_restoring_store_refuses_a_delete_a_restore_and_a_backup_with_a_message_and_an_audit_entry(
    backups_on, fake_cluster, ready, alice_client
):
    backup = Backup.objects.create(store=ready, kind=Backup.Kind.MANUAL, state=Backup.State.DONE)
    lifecycle.begin_restore(ready.pk, "Restore requested.")

    said = []
    for url in (
        reverse("store_delete", args=[ready.pk]),
        reverse("store_restore", args=[ready.pk, backup.pk]),
        reverse("store_backup", args=[ready.pk]),
    ):
        response = alice_client.post(url, follow=True)
        said.append([str(m) for m in response.context["messages"]])

    assert said[0] == ["“acme-backups” is being restored; delete it once that has ended."]
    assert all(len(messages) == 1 and "restor" in messages[0] for messages in said[1:]), said
    refused = AuditEntry.objects.filter(store_pk=ready.pk, outcome=Outcome.REFUSED)
    assert [(entry.action, entry.detail) for entry in refused.order_by("pk")] == [
        ("delete", "a restore is running"),
        ("restore", said[1][0]),
        ("backup", said[2][0]),
    ]
    assert Store.objects.get(pk=ready.pk).status == Status.RESTORING
    assert Backup.objects.filter(store=ready).count() == 1


def test_the_restore_confirmation_names_the_backups_time_and_a_post_restores(
    backups_on, runner, fake_cluster, ready, alice_client, workers
):
    backup = service.run(ready, Backup.Kind.MANUAL).backup
    page = alice_client.get(reverse("store_restore", args=[ready.pk, backup.pk])).content.decode()
    when = timezone.localtime(backup.created_at)
    assert f"{when:%b} {when.day}, {when:%Y}" in page and "Restore this backup" in page
    with workers():
        alice_client.post(reverse("store_restore", args=[ready.pk, backup.pk]))
    assert Store.objects.get(pk=ready.pk).status == Status.READY
    assert ready.events.filter(code=EventCode.RESTORED).exists()


def test_a_delete_makes_a_final_backup_kept_for_days_and_it_restores_into_a_new_store(
    backups_on, runner, fake_cluster, ready, alice, alice_client, workers, settings
):
    settings.BACKUP_AFTER_DELETE_DAYS = 30
    fake_cluster.namespaces[ready.namespace] = {
        "app.kubernetes.io/managed-by": "store-provisioner",
        "store-provisioner.io/store-id": str(ready.pk),
    }
    kept = {"admin-user": "admin", "admin-password": "the-old-one", "db-password": "old-db", "retired-key": "x"}
    fake_cluster.secrets[(ready.namespace, "store-secret")] = kept
    with workers():
        alice_client.post(reverse("store_delete", args=[ready.pk]))
    deleted = Store.objects.get(pk=ready.pk)
    assert deleted.status == Status.DELETED, list(deleted.events.values_list("message", flat=True))
    final = Backup.objects.get(store=deleted, kind=Backup.Kind.FINAL)
    assert final.state == Backup.State.DONE
    assert timedelta(days=29) < final.keep_until - timezone.now() <= timedelta(days=30)
    assert "Final backup made" in deleted.events.get(step="backup", kind=StoreEvent.Kind.STEP).message

    dashboard = alice_client.get(reverse("dashboard")).content.decode()
    assert "Recently deleted" in dashboard and "acme-backups" in dashboard

    fake_cluster.templates["store-acme-restored"] = _templates("woocommerce")
    with workers():
        response = alice_client.post(reverse("store_restore_deleted", args=[deleted.pk]), {"name": "acme-restored"})
    new = Store.objects.get(slug="acme-restored")
    assert response.status_code == 302
    assert new.status == Status.READY, new.failure_reason
    assert new.events.filter(code=EventCode.RESTORED).exists()
    # The restored database's admin and database passwords are the new store's: kept with the backup.
    secret = fake_cluster.secrets[(new.namespace, "store-secret")]
    assert secret["admin-password"] == "the-old-one" and secret["db-password"] == "old-db"
    assert "retired-key" not in secret and secret["db-root-password"]  # the engine's keys, new where none was kept
    restore_jobs = [name for (ns, name) in fake_cluster.jobs if ns == new.namespace and name.startswith("restore-")]
    assert (runner.tmp_path / restore_jobs[0] / "database.sql.gz").read_bytes() == DUMP


def test_recreating_a_lost_store_restores_its_latest_backup(backups_on, runner, fake_cluster, ready, workers):
    backup = service.run(ready, Backup.Kind.MANUAL).backup
    lifecycle.mark_lost(ready.pk, "its namespace store-acme-backups is gone")
    with workers():
        tasks.request_retry(ready.pk)
    store = Store.objects.get(pk=ready.pk)
    assert store.status == Status.READY, store.failure_reason
    assert store.restore_from is None
    assert store.events.filter(code=EventCode.RESTORED).exists()
    assert any(
        name == f"restore-{backup.pk}" or name.startswith(f"restore-{backup.pk}-") for (_, name) in fake_cluster.jobs
    )


@pytest.mark.parametrize("auto_recover", [True, False])
def test_with_auto_recover_a_lost_store_is_recreated_from_its_backup_and_its_owner_told(
    backups_on, runner, fake_cluster, ready, workers, settings, auto_recover
):
    settings.AUTO_RECOVER = auto_recover
    service.run(ready, Backup.Kind.MANUAL)
    Store.objects.filter(pk=ready.pk).update(ready_at=timezone.now() - timedelta(minutes=5))
    assert ready.namespace not in fake_cluster.namespaces  # gone, as with a recreated cluster

    with workers():
        report = tasks.check_drift()

    store = Store.objects.get(pk=ready.pk)
    assert list(report["lost"]) == [ready.slug]
    if not auto_recover:
        assert report["recovered"] == [] and store.status == Status.LOST
        return
    assert report["recovered"] == [ready.slug]
    assert store.status == Status.READY, store.failure_reason
    messages = list(store.events.values_list("message", flat=True))
    assert any(m.startswith("Auto-recovery (AUTO_RECOVER): recreating it from its backup of") for m in messages)
    assert store.events.filter(code=EventCode.RESTORED).exists()
    assert "Your store acme-backups is being recovered" in [m.subject for m in mail.outbox]


def test_the_backup_policies_name_the_object_stores_address(backups_on, ready):
    guard = isolation.guardrail_spec("woocommerce")
    assert guard.backup is not None
    assert guard.backup.store_addresses == ("127.0.0.1",)
    assert guard.backup.store_port == int(backups_on.config.endpoint.rsplit(":", 1)[1])
    names = [p["metadata"]["name"] for p in network_policies(guard)]
    assert set(BACKUP_POLICIES) <= set(names)


def test_a_restore_whose_worker_was_lost_is_failed_by_the_reconcile(ready, fake_cluster):
    token = lifecycle.begin_restore(ready.pk, "Restore of the manual backup of yesterday requested.")
    assert token and Store.objects.get(pk=ready.pk).status == Status.RESTORING
    assert tasks.reconcile()["restore_failed"] == []  # its worker still reports
    Store.objects.filter(pk=ready.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    assert tasks.reconcile()["restore_failed"] == [ready.pk]

    store = Store.objects.get(pk=ready.pk)
    assert store.status == Status.FAILED
    assert store.failure_reason == "Restore failed: the worker running it stopped reporting; restore the backup again"
    assert store.events.filter(code=EventCode.RESTORE_FAILED).exists()
