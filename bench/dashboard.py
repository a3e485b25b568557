"""What the dashboard's pages cost with a full database: queries, server time, polls per second.

Seeds a throwaway SQLite database (bulk_create) with 1,000 stores of 250 users
and 100,000 events, then prints one JSON line:
  list_queries, detail_queries, fragment_queries
                      SQL queries of one request: the dashboard (the store
                      list) of a user with 3 live stores, the store page and
                      the status fragment (HX-Request) of that user's busy
                      store, which has 5,000 events
  list_p50_ms ... fragment_p95_ms
                      server time in process through Django's test Client
                      (--requests each, after a warm-up); the fragment is
                      rendered whole every time (no If-None-Match), as for a
                      first poll or one after the store changed
  fragment_304_p50_ms, fragment_304_p95_ms, fragment_304_queries
                      the same poll as a browser repeats it: with the ETag of
                      the fragment it holds, while nothing changed (a 304)
  fragment_rps_50_pollers, fragment_poll_p50_ms, fragment_poll_p95_ms
                      the status fragment under 50 concurrent pollers (threads,
                      logged-in session) against gunicorn started as the
                      Procfile's `web` line starts it, on the same database
                      file, for --seconds: completed requests per second and
                      their latency. Each poller sends back the last ETag it
                      got, as a browser does, while the store changes (a new
                      event) every --change-every seconds, so every poller
                      also fetches the whole fragment that often
                      (fragment_poll_full counts those 200s, fragment_poll_304
                      the rest). 50 tabs polling every 2 s need 25 req/s.
  list_poll_queries   the polled store-list fragment, for comparison
  queries_flat        true when each page's query count is the same with the
                      measured user's data at a tenth of its size
Targets: queries per page <= 10 and independent of data size, list p95 <= 50 ms,
fragment p95 <= 10 ms. DEBUG is off (the cached template loader, as deployed).
No cluster is needed: KUBECONFIG points at nothing, so
no page may wait for one. Run with `make bench-dashboard`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

_workdir = Path(tempfile.mkdtemp(prefix="dashboard-bench-"))
# Production settings over plain HTTP (DEBUG off renders as the site does), one
# secret key for this process and gunicorn so the session made here is valid there.
ENV = {
    "DATABASE_URL": f"sqlite:///{_workdir}/bench.sqlite3",
    "VAR_DIR": str(_workdir),
    "DEBUG": "false",
    "SECRET_KEY": "dashboard-bench-" + "k" * 40,
    "ALLOWED_HOSTS": "testserver,127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SECURE_HSTS_SECONDS": "0",
    "KUBECONFIG": str(_workdir / "no-cluster"),
    "KUBE_REQUEST_TIMEOUT": "1",
    "LOG_LEVEL": "WARNING",
    "DJANGO_SETTINGS_MODULE": "provisioner.settings",
}
os.environ.update(ENV)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from stores import lifecycle, runs  # noqa: E402
from stores.models import Status, Store, StoreEvent  # noqa: E402

USERS = 250
STORES = 1_000
EVENTS = 100_000
BUSY_STORE_EVENTS = 5_000
# Most of a busy platform's rows are history: deleted stores stay as rows.
OTHER_STATUSES = [Status.DELETED] * 12 + [Status.READY] * 5 + [Status.FAILED] * 2 + [Status.QUEUED]


def seed(scale: float = 1.0) -> dict:
    """The database; `scale` shrinks the measured user's events (to check query counts stay flat)."""
    rng = random.Random(7)
    now = timezone.now()
    User = get_user_model()
    User.objects.bulk_create(User(username=f"user{i}", email=f"user{i}@example.org") for i in range(USERS - 1))
    me = User.objects.create_user("bench", "bench@example.org", "a-long-pass-phrase-9")
    others = list(User.objects.exclude(pk=me.pk))

    # The measured user: 3 live stores (the default limit) and one busy with a long history.
    mine = Store.objects.bulk_create(
        [
            Store(
                owner=me,
                slug="bench-ready",
                engine="woocommerce",
                status=Status.READY,
                step="storefront",
                queued_at=now - timedelta(days=3),
                started_at=now - timedelta(days=3),
                ready_at=now - timedelta(days=3),
            ),
            Store(
                owner=me,
                slug="bench-busy",
                engine="woocommerce",
                status=Status.PROVISIONING,
                step="workloads",
                queued_at=now - timedelta(minutes=3),
                started_at=now - timedelta(minutes=3),
                attempts=40,
            ),
            Store(owner=me, slug="bench-queued", engine="medusa", status=Status.QUEUED, queued_at=now),
        ]
    )
    rest = []
    for i in range(STORES - len(mine)):
        status = rng.choice(OTHER_STATUSES)
        at = now - timedelta(minutes=rng.randint(5, 60 * 24 * 30))
        rest.append(
            Store(
                owner=rng.choice(others),
                slug=f"shop-{i}",
                engine=rng.choice(["woocommerce", "medusa"]),
                status=status,
                queued_at=at,
                started_at=None if status == Status.QUEUED else at,
                deleted_at=at + timedelta(hours=1) if status == Status.DELETED else None,
            )
        )
    stores = mine + Store.objects.bulk_create(rest, batch_size=500)

    busy = mine[1]
    steps = [key for key, _label in runs.STEPS]
    busy_events = int(BUSY_STORE_EVENTS * scale)
    events = [
        StoreEvent(
            store=busy,
            kind=StoreEvent.Kind.STEP if n % 3 == 0 else StoreEvent.Kind.INFO,
            step=steps[n % len(steps)],
            message=f"event {n}",
            duration_ms=120 if n % 3 == 0 else None,
        )
        for n in range(busy_events)
    ]
    events += [StoreEvent(store=rng.choice(stores), message=f"event {n}") for n in range(EVENTS - busy_events)]
    StoreEvent.objects.bulk_create(events, batch_size=2_000)
    # created_at is auto_now_add, so bulk_create stamped every row "now". The busy
    # store was retried many times: two thirds of its events are from earlier attempts.
    ids = list(StoreEvent.objects.filter(store=busy).order_by("pk").values_list("pk", flat=True))
    cut = ids[len(ids) * 2 // 3]
    StoreEvent.objects.filter(store=busy, pk__lt=cut).update(created_at=now - timedelta(hours=2))
    assert busy.started_at is not None
    StoreEvent.objects.filter(store=busy, pk__gte=cut).update(created_at=busy.started_at + timedelta(seconds=1))
    return {"user": me, "busy": busy}


def count_queries(client: Client, url: str, **headers) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **headers)
    if response.status_code not in (200, 286):
        raise SystemExit(f"{url}: {response.status_code}")
    return len(captured)


def time_requests(client: Client, url: str, n: int, expect: int | None = None, **headers) -> tuple[float, float]:
    for _ in range(max(5, n // 10)):
        client.get(url, **headers)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url, **headers)
        samples.append((time.perf_counter() - started) * 1000)
        if expect is not None and response.status_code != expect:
            raise SystemExit(f"{url}: {response.status_code}, expected {expect}")
    return percentiles(samples)


def percentiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return round(statistics.median(samples), 2), round(cuts[94], 2)


def poll_under_load(url: str, session: str, pollers: int, seconds: float) -> dict:
    """`pollers` threads polling `url` back to back for `seconds`, each sending
    back the ETag of the last fragment it got, as a browser's cache does."""
    latencies: list[float] = []
    counts = {"full": 0, "not_modified": 0, "errors": 0}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    start = threading.Barrier(pollers + 1)

    def poll():
        etag = None
        start.wait()
        while time.monotonic() < stop_at:
            headers = {"Cookie": f"sessionid={session}", "HX-Request": "true"}
            if etag:
                headers["If-None-Match"] = etag
            began = time.perf_counter()
            outcome = "errors"
            try:
                request = urllib.request.Request(url, headers=headers)  # noqa: S310
                with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (the local server)
                    response.read()
                    etag = response.headers.get("ETag")
                outcome = "full"
            except urllib.error.HTTPError as exc:  # urllib raises on 304 and on htmx's 286
                exc.read()
                outcome = {304: "not_modified", 286: "full"}.get(exc.code, "errors")
            except OSError:
                pass
            with lock:
                counts[outcome] += 1
                if outcome != "errors":
                    latencies.append((time.perf_counter() - began) * 1000)

    threads = [threading.Thread(target=poll, daemon=True) for _ in range(pollers)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    p50, p95 = percentiles(latencies) if len(latencies) > 1 else (0.0, 0.0)
    return {"rps": round(len(latencies) / elapsed, 1), "p50": p50, "p95": p95, **counts}


def keep_changing(store_id: int, every: float, stop: threading.Event) -> None:
    """A provision at work: a new event on the store every `every` seconds."""
    n = 0
    while not stop.wait(every):
        n += 1
        lifecycle.record(store_id, f"still waiting for the workloads ({n})")
    connection.close()


def web_command(port: int, extra: list[str]) -> list[str]:
    """The Procfile's `web` line, bound to `port`: the bench runs the server as deployed."""
    line = next(line for line in (REPO_ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    args = shlex.split(line.removeprefix("web:"))
    assert args[0] == "gunicorn", line
    args[0] = str(Path(sys.executable).parent / "gunicorn")
    args[args.index("--bind") + 1] = f"127.0.0.1:{port}"
    return args + extra


def start_gunicorn(extra: list[str]) -> tuple[subprocess.Popen, str, list[str]]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = web_command(port, extra)
    proc = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, **ENV},
        stdout=subprocess.DEVNULL,
        stderr=open(_workdir / "gunicorn.log", "wb"),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, f"http://127.0.0.1:{port}", command[1:]
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start; see " + str(_workdir / "gunicorn.log"))


def page_queries(client: Client, busy) -> dict:
    return {
        "list": count_queries(client, reverse("dashboard")),
        "detail": count_queries(client, reverse("store_detail", args=[busy.pk])),
        "fragment": count_queries(client, reverse("store_status", args=[busy.pk]), HTTP_HX_REQUEST="true"),
        "list_poll": count_queries(client, reverse("store_list"), HTTP_HX_REQUEST="true"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page (in process)")
    parser.add_argument("--pollers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15, help="how long the pollers run")
    parser.add_argument(
        "--change-every",
        type=float,
        default=2.0,
        help="seconds between new events on the polled store while the pollers run (0: never)",
    )
    parser.add_argument("--gunicorn", default="", help="extra gunicorn options after the Procfile's, to compare")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)

    # Query counts with the measured user's data at a tenth, then in full: they must not move.
    small = seed(scale=0.1)
    client = Client()
    client.force_login(small["user"])
    small_queries = page_queries(client, small["busy"])
    call_command("flush", interactive=False, verbosity=0)

    seeded = seed()
    assert Store.objects.count() == STORES, Store.objects.count()
    assert StoreEvent.objects.count() == EVENTS, StoreEvent.objects.count()
    client = Client()
    client.force_login(seeded["user"])
    busy = seeded["busy"]
    queries = page_queries(client, busy)

    list_url = reverse("dashboard")
    detail_url = reverse("store_detail", args=[busy.pk])
    fragment_url = reverse("store_status", args=[busy.pk])
    list_p50, list_p95 = time_requests(client, list_url, args.requests)
    detail_p50, detail_p95 = time_requests(client, detail_url, args.requests)
    fragment_p50, fragment_p95 = time_requests(client, fragment_url, args.requests, expect=200, HTTP_HX_REQUEST="true")
    etag = client.get(fragment_url, HTTP_HX_REQUEST="true")["ETag"]
    conditional: dict[str, Any] = {"HTTP_HX_REQUEST": "true", "HTTP_IF_NONE_MATCH": etag}
    with CaptureQueriesContext(connection) as captured:
        assert client.get(fragment_url, **conditional).status_code == 304
    fragment_304_queries = len(captured)
    not_modified_p50, not_modified_p95 = time_requests(client, fragment_url, args.requests, expect=304, **conditional)

    connection.close()  # gunicorn's workers open the file themselves
    proc, base, web = start_gunicorn(shlex.split(args.gunicorn))
    stop = threading.Event()
    writer = threading.Thread(target=keep_changing, args=(busy.pk, args.change_every, stop), daemon=True)
    try:
        if args.change_every:
            writer.start()
        polled = poll_under_load(base + fragment_url, client.cookies["sessionid"].value, args.pollers, args.seconds)
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(10)
        proc.terminate()
        proc.wait(15)

    print(
        json.dumps(
            {
                "list_queries": queries["list"],
                "detail_queries": queries["detail"],
                "fragment_queries": queries["fragment"],
                "list_p50_ms": list_p50,
                "list_p95_ms": list_p95,
                "detail_p50_ms": detail_p50,
                "detail_p95_ms": detail_p95,
                "fragment_p50_ms": fragment_p50,
                "fragment_p95_ms": fragment_p95,
                "fragment_rps_50_pollers" if args.pollers == 50 else f"fragment_rps_{args.pollers}_pollers": polled[
                    "rps"
                ],
                "fragment_304_p50_ms": not_modified_p50,
                "fragment_304_p95_ms": not_modified_p95,
                "fragment_304_queries": fragment_304_queries,
                "fragment_poll_p50_ms": polled["p50"],
                "fragment_poll_p95_ms": polled["p95"],
                "fragment_poll_full": polled["full"],
                "fragment_poll_304": polled["not_modified"],
                "fragment_poll_errors": polled["errors"],
                "list_poll_queries": queries["list_poll"],
                "queries_flat": queries == small_queries,
                "stores": STORES,
                "events": EVENTS,
                "busy_store_events": BUSY_STORE_EVENTS,
                "debug": settings.DEBUG,
                "gunicorn": " ".join(web),
                "poll_seconds": args.seconds,
                "change_every_s": args.change_every,
            }
        )
    )


if __name__ == "__main__":
    main()
