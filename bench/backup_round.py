"""What a night of backups costs the platform with 1,000 ready stores.

Seeds a throwaway SQLite database with --stores ready WooCommerce stores and
plays a night: the schedule's round (stores/backups/nightly.py) once per
simulated minute over the night window. The cluster is a stand-in at the
cluster layer's boundary (stores/tests/fakes.py) whose backup Jobs take
--job-minutes to end, and upload their objects to a real S3 server (SeaweedFS,
localcluster/objectstore.sh) the moment they are made; the platform's side runs
as it does in production: rounds, signed URLs, guardrails, the manifest, the
pruning. Prints one JSON line:
  stores, rounds                 the stores, and the rounds the night took
  queries_per_round_idle         SQL queries of a round that starts and finishes nothing
  queries_per_round_median, _max those of every round (one that finishes and
                                 starts backups adds their rows, events and pruning)
  jobs_in_flight_max             backup Jobs running at once (BACKUP_JOBS_AT_ONCE)
  backed_up, failed              nightly backups done and failed
  last_backup_minute             the minute of the window the last one started
  object_ops_per_backup          object store requests per backup, the platform's
                                 (the Job's own uploads are not counted)
  round_ms_p50, round_ms_max     a round's time in this process
Run with `make bench-backups`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="backup_round.py", description=__doc__.splitlines()[0])
    parser.add_argument("--stores", type=int, default=1000)
    parser.add_argument("--job-minutes", type=int, default=2, help="how long a backup Job runs")
    parser.add_argument("--jobs-at-once", type=int, default=10, help="BACKUP_JOBS_AT_ONCE")
    parser.add_argument("--night-hours", type=int, default=4, help="BACKUP_NIGHT_HOURS")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    up = subprocess.run(
        ["bash", str(REPO_ROOT / "localcluster" / "objectstore.sh"), "up", str(workdir / "s3"), "18333"],
        capture_output=True,
        text=True,
        check=True,
    )
    s3 = dict(line.split("=", 1) for line in up.stdout.splitlines() if "=" in line)
    # The night that ended an hour ago: every backup made now is "since it began".
    start = (datetime.now(UTC) - timedelta(hours=args.night_hours + 1)).replace(minute=0, second=0, microsecond=0)
    os.environ.update(
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite3",
        DEBUG="true",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="provisioner.settings",
        BACKUP_JOBS_AT_ONCE=str(args.jobs_at_once),
        BACKUP_NIGHT_HOURS=str(args.night_hours),
        BACKUP_NIGHT_START_HOUR=str(start.hour),
        MAX_STORES_PER_USER=str(args.stores),
        **s3,
    )
    try:
        print(json.dumps(run(args, start)))
    finally:
        subprocess.run(["bash", str(REPO_ROOT / "localcluster" / "objectstore.sh"), "down", str(workdir / "s3")])


def run(args: argparse.Namespace, start: datetime) -> dict:
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    from stores import clients, cluster
    from stores.backups import nightly, storage
    from stores.models import Backup, Status, Store
    from stores.objectstore import ObjectStore
    from stores.tests.fakes import FakeCluster

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench", "bench@example.org")
    ready_at = start - timedelta(days=1)  # ready before the night began
    Store.objects.bulk_create(
        Store(owner=owner, slug=f"shop-{i}", engine="woocommerce", status=Status.READY, ready_at=ready_at, attempts=1)
        for i in range(args.stores)
    )
    template = {
        "mariadb": {
            "metadata": {"labels": {"app.kubernetes.io/component": "mariadb"}},
            "spec": {"containers": [{"name": "mariadb", "image": "mariadb:11.8.8", "env": []}]},
        },
        "wordpress": {
            "metadata": {"labels": {"app.kubernetes.io/component": "wordpress"}},
            "spec": {
                "containers": [
                    {
                        "name": "wordpress",
                        "image": "wordpress:7.1.0",
                        "volumeMounts": [{"name": "content", "mountPath": "/var/www/html", "subPath": "html"}],
                    }
                ],
                "volumes": [{"name": "content", "persistentVolumeClaim": {"claimName": "store-wordpress"}}],
            },
        },
    }
    kube = FakeCluster()
    kube.templates = {store.namespace: template for store in Store.objects.all()}
    states: dict[str, cluster.JobOutcome] = {}
    kube.job_states = states
    clients.connect = lambda request_timeout=None: kube  # the boundary, as the unit tests fake it

    requests = {"count": 0}
    real = storage.object_store

    def counted() -> ObjectStore:
        bucket = real()
        for name in ("ensure_bucket", "presign_put", "size", "read", "write", "keys", "delete_prefix"):
            method = getattr(bucket, name)

            def wrap(*a, _m=method, _n=name, **k):
                if not _n.startswith("presign"):  # signing is local
                    requests["count"] += 1
                return _m(*a, **k)

            setattr(bucket, name, wrap)
        return bucket

    storage.object_store = counted
    minute = {"now": 0}
    ends: dict[str, int] = {}

    def job_made(namespace: str, manifest: dict) -> None:
        # The Job's upload, at once; it "ends" --job-minutes later.
        name = manifest["metadata"]["name"]
        env = {e["name"]: e["value"] for c in manifest["spec"]["template"]["spec"]["containers"] for e in c["env"]}
        prefix = env["BACKUP_URL_0"].split("?")[0].split(f"/{os.environ['BACKUP_S3_BUCKET']}/", 1)[1]
        prefix = prefix.rsplit("/", 1)[0] + "/"
        bucket = real()
        bucket.write(prefix + "database.sql.gz", b"d" * 2048)
        bucket.write(prefix + "files.tar.gz", b"f" * 4096)
        bucket.write(prefix + "SHA256SUMS", b"0 database.sql.gz\n0 files.tar.gz\n")
        ends[name] = minute["now"] + args.job_minutes
        states[name] = cluster.JobOutcome("running")

    kube.job_created = job_made
    round_queries, round_ms, in_flight = [], [], []
    last_start = 0
    for m in range(args.night_hours * 60 + args.job_minutes * 10):
        minute["now"] = m
        for name, end in ends.items():
            if end <= m:
                states[name] = cluster.JobOutcome("succeeded")
        started = time.perf_counter()
        # The query log keeps the last 9,000: a full one would count every round as 0.
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            report = nightly.run_round(start + timedelta(minutes=m, seconds=30))
        round_ms.append((time.perf_counter() - started) * 1000)
        round_queries.append(len(captured.captured_queries))
        in_flight.append(Backup.objects.filter(state=Backup.State.RUNNING).count())
        if report.started:
            last_start = m
        if not report.started and not report.finished and m >= args.night_hours * 60:
            break

    backups = Backup.objects.filter(kind=Backup.Kind.NIGHTLY)
    done = backups.filter(state=Backup.State.DONE).count()
    quiet = [q for q in round_queries if q <= min(round_queries) + 2]
    return {
        "stores": args.stores,
        "rounds": len(round_queries),
        "queries_per_round_max": max(round_queries),
        "queries_per_round_median": statistics.median(round_queries),
        "queries_per_round_idle": min(quiet),
        "jobs_in_flight_max": max(in_flight),
        "backed_up": done,
        "failed": backups.filter(state=Backup.State.FAILED).count(),
        "last_backup_minute": last_start,
        "object_ops_per_backup": round(requests["count"] / max(done, 1), 1),
        "round_ms_p50": round(statistics.median(round_ms), 1),
        "round_ms_max": round(max(round_ms), 1),
    }


if __name__ == "__main__":
    main()
