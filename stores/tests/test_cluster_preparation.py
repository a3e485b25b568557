"""The local cluster's preparation while `make run` builds and starts it: its banner on every
page, and stores that wait in line for it (stores/preparation.py).

The status file is written by the same script `make run` uses (localcluster/status.py), so
what the pages show is what the preparation reports.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from stores import preparation, tasks
from stores.models import Status, Store

pytestmark = pytest.mark.django_db

STATUS_PY = Path(__file__).resolve().parents[2] / "localcluster" / "status.py"
PLAN = [
    "etcd=Building etcd v3.6.16",
    "kwok=Building kwok v0.8.0",
    "kwokctl=Building kwokctl v0.8.0",
    "helm=Building helm v3.22.0",
    "kube-modules=Downloading the Kubernetes v1.36.3 modules",
    "kube=Building kube-apiserver, kube-controller-manager, kube-scheduler and kubectl",
    "start=Starting the control plane",
]
BANNER = "Preparing the local cluster"
WAITING = "waiting for the cluster to be ready"


@pytest.fixture
def status_file(tmp_path, settings, monkeypatch):
    path = tmp_path / "var" / "cluster-status.json"
    settings.CLUSTER_STATUS_FILE = str(path)
    # Where status.py keeps how long each step took.
    monkeypatch.setenv("STORE_PROVISIONER_CACHE", str(tmp_path / "cache"))
    return path


def report(path: Path, *args: str) -> None:
    subprocess.run([sys.executable, str(STATUS_PY), str(path), *args], check=True, env=os.environ.copy())


def prepare(path: Path, *, upto: str | None = "kwokctl", pid: int | None = None) -> None:
    """A preparation that has started `upto` (None: planned, nothing started yet)."""
    report(path, "begin", "--pid", str(pid or os.getpid()), "--log", "/srv/var/cluster-prepare.log")
    report(path, "plan", *PLAN)
    for item in PLAN:
        if upto is None:
            break
        key = item.split("=")[0]
        report(path, "step", key)
        if key == upto:
            break


def _pages(alice_client):
    anonymous = Client()
    return [
        (anonymous, "/accounts/login/"),
        (anonymous, "/accounts/register/"),
        (alice_client, "/"),
        (alice_client, "/accounts/profile/"),
    ]


def test_it_shows_the_preparation_on_every_page_while_it_runs(alice_client, status_file):
    prepare(status_file, upto="kwokctl")

    for page_client, path in _pages(alice_client):
        body = page_client.get(path).content.decode()
        assert BANNER in body, path
        assert "Building kwokctl v0.8.0 (3 of 7)" in body, path
        assert f'hx-get="{reverse("cluster_preparation")}"' in body, path
    body = alice_client.get("/").content.decode()
    assert "the first time takes several minutes" in body
    assert 'aria-valuenow="35"' in body  # 2 steps done and one running, of 7


def test_it_polls_the_banner_until_the_cluster_is_ready(alice_client, status_file):
    prepare(status_file, upto="helm")
    url = reverse("cluster_preparation")

    polled = Client().get(url)
    assert polled.status_code == 200
    assert "Building helm v3.22.0 (4 of 7)" in polled.content.decode()
    assert "hx-trigger" in polled.content.decode()

    report(status_file, "step", "start")
    report(status_file, "ready")
    final = Client().get(url)
    assert final.status_code == 286  # htmx stops polling
    assert "The local cluster is ready" in final.content.decode()
    assert "hx-trigger" not in final.content.decode()
    # And a page loaded afterwards has no banner at all.
    for page_client, path in _pages(alice_client):
        assert 'id="cluster-preparation"' not in page_client.get(path).content.decode(), path


def test_it_keeps_the_step_list_open_across_polls_when_the_reader_opened_it(status_file):
    prepare(status_file)
    url = reverse("cluster_preparation")

    assert '<details class="preparation-steps" open>' in Client().get(url, {"steps": "1"}).content.decode()
    assert '<details class="preparation-steps">' in Client().get(url, {"steps": "0"}).content.decode()


def test_it_shows_nothing_when_no_cluster_is_prepared(alice_client, settings):
    settings.CLUSTER_STATUS_FILE = ""

    for page_client, path in _pages(alice_client):
        assert 'id="cluster-preparation"' not in page_client.get(path).content.decode(), path
    response = Client().get(reverse("cluster_preparation"))
    assert response.status_code == 286
    assert response.content.decode().strip() == ""
    assert preparation.cluster_ready()


def test_it_says_why_and_stops_polling_when_the_preparation_failed(alice_client, status_file):
    prepare(status_file, upto="kube")
    report(status_file, "failed", "localcluster/up.sh stopped (exit 1): go: k8s.io/kubernetes: no route to host")

    body = alice_client.get("/").content.decode()
    assert "The local cluster could not be prepared" in body
    assert "go: k8s.io/kubernetes: no route to host" in body
    assert "/srv/var/cluster-prepare.log" in body
    assert 'hx-get="/cluster/preparation/"' not in body
    assert Client().get(reverse("cluster_preparation")).status_code == 286
    assert not preparation.cluster_ready()


def test_a_preparation_whose_process_is_gone_has_failed(status_file):
    gone = subprocess.Popen(["true"])
    gone.wait()
    prepare(status_file, upto="kube", pid=gone.pid)

    current = preparation.current()

    assert current is not None
    assert current.is_failed
    assert f"the preparation stopped without finishing (process {gone.pid} is gone)" == current.reason
    assert [s.state for s in current.steps][-3:] == ["done", "failed", "pending"]
    assert not preparation.cluster_ready()


def test_it_says_how_long_it_took_last_time_and_about_how_long_is_left(status_file, tmp_path, alice_client):
    prepare(status_file, upto="start")
    report(status_file, "ready")
    recorded = json.loads((tmp_path / "cache" / "build-times.json").read_text())
    assert sorted(recorded["steps"]) == sorted(item.split("=")[0] for item in PLAN)
    assert recorded["last_duration_seconds"] is not None

    # As a real first build on this machine left them: 9 min 40 s in all.
    last = dict(
        zip(
            ["etcd", "kwok", "kwokctl", "helm", "kube-modules", "kube", "start"],
            [95.0, 40.0, 35.0, 70.0, 110.0, 210.0, 20.0],
            strict=True,
        )
    )
    (tmp_path / "cache" / "build-times.json").write_text(json.dumps({"steps": last, "last_duration_seconds": 580.0}))
    prepare(status_file, upto=None)
    second = preparation.current()

    assert second is not None and second.is_preparing
    assert second.last_duration == "9 min 40 s"
    assert second.expected_seconds == 580.0
    assert (second.percent, second.left) == (0, "9 min 40 s")
    assert [s.took_last_time for s in second.steps][:2] == ["1 min 35 s", "40 s"]
    report(status_file, "step", "etcd")
    report(status_file, "step", "kwok")  # etcd done: 95 of 580 s behind
    third = preparation.current()
    assert third is not None
    assert third.percent == 16
    assert third.left == "8 min 05 s"
    body = alice_client.get("/").content.decode()
    assert "Last time it took 9 min 40 s." in body
    assert "about 8 min 05 s left" in body
    assert "35 s last time" in body  # kwokctl, still to come


def test_it_writes_durations_like_a_stores_time_in_provisioning():
    assert [preparation.in_words(s) for s in (0.4, 45, 125, 3900)] == ["0 s", "45 s", "2 min 05 s", "1 h 05 min"]


def test_a_missing_status_file_means_the_preparation_has_not_reported_yet(status_file):
    assert not status_file.exists()

    current = preparation.current()

    assert current is not None and current.is_preparing
    assert current.summary == "Starting"
    assert not preparation.cluster_ready()


def test_a_store_created_meanwhile_waits_in_line_with_the_reason(alice_client, workers, status_file):
    prepare(status_file)

    with workers():
        response = alice_client.post(reverse("store_create"), {"name": "acme", "engine": "woocommerce"})

    store = Store.objects.get()
    assert response.status_code == 302
    # Not claimed: its deadline has not started.
    assert (store.status, store.attempts, store.started_at, store.deadline_at) == (Status.QUEUED, 0, None, None)
    page = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    assert f"Number 1 in line, {WAITING}." in page
    fragment = alice_client.get(reverse("store_status", args=[store.pk])).content.decode()
    assert f"Number 1 in line, {WAITING}." in fragment
    listing = alice_client.get("/").content.decode()
    assert f"#1 in line, {WAITING}" in listing
    assert list(store.events.order_by("pk").values_list("message", flat=True)) == [
        "Store requested; waiting for a free provisioning slot.",
        "The cluster is still being prepared; this store starts once it answers.",
    ]


def test_the_stores_that_waited_start_once_the_cluster_is_ready(alice_client, workers, status_file, fake_cluster):
    prepare(status_file)
    with workers():
        alice_client.post(reverse("store_create"), {"name": "acme", "engine": "woocommerce"})
        assert tasks.reconcile()["started"] == []  # the schedule finds it still waiting

    report(status_file, "step", "start")
    report(status_file, "ready")
    with workers():
        started = tasks.reconcile()["started"]  # what prepare-cluster.sh runs once it is ready

    store = Store.objects.get()
    assert started == [store.pk]
    assert store.status == Status.READY
    assert "store-acme" in fake_cluster.namespaces
    page = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    assert WAITING not in page


def test_a_failed_preparation_keeps_the_stores_in_line_and_says_so(alice_client, workers, status_file):
    prepare(status_file)
    report(status_file, "failed", "localcluster/up.sh stopped (exit 1)")

    with workers():
        alice_client.post(reverse("store_create"), {"name": "acme", "engine": "woocommerce"})

    store = Store.objects.get()
    assert store.status == Status.QUEUED
    page = alice_client.get(reverse("store_detail", args=[store.pk])).content.decode()
    assert "Number 1 in line, waiting for the cluster, which could not be prepared." in page
