"""The store page's live parts: pods, quota usage and Kubernetes events in the activity.

The cluster is faked at its boundary (FakeCluster); one test points the page
at a kubeconfig whose server is a closed port, with no fake at all.
"""

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from pytest_django.asserts import assertInHTML

from stores import cluster, lifecycle, live
from stores.cluster.errors import FailureCode
from stores.cluster.reads import ClusterEvent, PodStatus, QuotaUsage
from stores.models import Status, Store, StoreEvent

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
NS = "store-acme"
REFUSED = (
    'Error creating: pods "store-wordpress-5d8f9-x2" is forbidden: exceeded quota: store-quota, '
    "requested: requests.cpu=2, used: requests.cpu=750m, limited: requests.cpu=2"
)


def _detail(client, store):
    return client.get(reverse("store_detail", args=[store.pk]))


def _fragment(client, store):
    return client.get(reverse("store_status", args=[store.pk]), **HTMX)


def _pod(name, ready=1, containers=1, restarts=0, reason="", message="", last_reason="", phase="Running"):
    return PodStatus(
        name=name,
        phase=phase,
        ready=ready,
        containers=containers,
        restarts=restarts,
        reason=reason,
        message=message,
        last_reason=last_reason,
        created_at=None,
    )


def _event(when, reason, message, type_="Warning", count=1, obj="ReplicaSet/store-wordpress-5d8f9"):
    return ClusterEvent(time=when, first_time=when, type=type_, reason=reason, object=obj, message=message, count=count)


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_it_shows_the_pods_with_ready_restarts_and_reason(alice_client, store, fake_cluster):
    fake_cluster.live_pods = {
        NS: [
            _pod("store-mariadb-0", ready=1, containers=1),
            _pod(
                "store-wordpress-5d8f9-x2",
                ready=0,
                containers=1,
                restarts=3,
                phase="Pending",
                reason="ImagePullBackOff",
                message="Back-off pulling image",
            ),
            _pod(
                "store-setup-abcde",
                ready=0,
                containers=1,
                restarts=5,
                reason="CrashLoopBackOff",
                last_reason="OOMKilled",
            ),
        ]
    }

    response = _detail(alice_client, store)

    assert response.status_code == 200
    text = _text(response)
    assert "Pods Name Ready Restarts Status" in text
    assert "store-mariadb-0 1/1 0 Running" in text
    assert "store-wordpress-5d8f9-x2 0/1 3 ⚠ ImagePullBackOff" in text
    assert "store-setup-abcde 0/1 5 ⚠ CrashLoopBackOff (last: OOMKilled)" in text
    assert 'title="Back-off pulling image"' in response.content.decode()


def test_it_merges_kubernetes_events_into_the_activity_by_time(alice_client, store, fake_cluster):
    started = StoreEvent.objects.filter(store=store).order_by("created_at").last().created_at
    fake_cluster.live_events = {
        NS: [
            _event(
                started + timedelta(seconds=30),
                "Scheduled",
                "Assigned store-acme/web to kwok-node-0",
                type_="Normal",
                obj="Pod/web",
            ),
            _event(started - timedelta(hours=1), "Old", "before the store was claimed", type_="Normal", obj="Pod/old"),
        ]
    }

    text = _text(_fragment(alice_client, store))

    # Newest first: the Kubernetes event after the claim, the platform's events, then the older one.
    scheduled = text.index("Scheduled Pod/web Assigned store-acme/web to kwok-node-0")
    claimed = text.index(StoreEvent.objects.filter(store=store).order_by("created_at").last().message)
    old = text.index("before the store was claimed")
    assert scheduled < claimed < old
    assert "Kubernetes Scheduled" in text


def test_it_marks_warnings_in_words_and_folds_repeats_with_a_count(alice_client, store, fake_cluster):
    now = datetime.now(UTC)
    fake_cluster.live_events = {NS: [_event(now, "FailedCreate", REFUSED, count=12)]}

    response = _fragment(alice_client, store)

    body = response.content.decode()
    text = _text(response)
    assert f"⚠ Warning FailedCreate ReplicaSet/store-wordpress-5d8f9 {REFUSED}" in text.replace("&quot;", '"')
    assert '<span aria-hidden="true">×12</span><span class="visually-hidden">, 12 times</span>' in body
    assert 'class="event event-cluster event-warning"' in body


def test_it_shows_quota_usage_as_text_and_a_bar(alice_client, store, fake_cluster):
    fake_cluster.live_quota = {
        NS: [
            QuotaUsage("store-quota", "requests.cpu", "750m", "2", 0.375),
            QuotaUsage("store-quota", "requests.memory", "1536Mi", "3Gi", 0.5),
            QuotaUsage("store-quota", "pods", "10", "10", 1.0),
            QuotaUsage("store-quota", "requests.storage", "", "20Gi", None),
            QuotaUsage("store-quota", "services.nodeports", "0", "0", 0.0),
        ]
    }

    response = _detail(alice_client, store)

    body, text = response.content.decode(), _text(response)
    assert "CPU requested 750m / 2" in text
    assert "Memory requested 1536Mi / 3Gi" in text
    assert "Pods ⚠ 10 / 10 (at the limit)" in text
    assert "Storage 0 / 20Gi" in text
    assert "nodeports" not in text
    assert 'style="width: 38%"' in body and 'style="width: 100%"' in body


def test_a_store_refused_by_its_quota_shows_the_event_after_it_failed(alice_client, store, fake_cluster):
    lifecycle.mark_failed(
        store.pk, "quota exceeded: exceeded quota: store-quota", code=FailureCode.QUOTA, step="workloads"
    )
    fake_cluster.live_events = {NS: [_event(datetime.now(UTC), "FailedCreate", REFUSED, count=4)]}

    response = _fragment(alice_client, store)

    assert response.status_code == 286
    text = _text(response).replace("&quot;", '"')
    assert "Provisioning failed: quota exceeded" in text
    assert f"Warning FailedCreate ReplicaSet/store-wordpress-5d8f9 {REFUSED}" in text
    assert 'hx-trigger="every 2s' not in response.content.decode()


def test_it_says_the_cluster_is_unreachable_when_a_read_times_out(alice_client, store, fake_cluster):
    fake_cluster.read_error = cluster.ClusterUnavailable(
        "Kubernetes API at https://10.0.0.1:6443 is unreachable while listing pods in store-acme: "
        "Read timed out. (read timeout=2)"
    )

    for response in (_detail(alice_client, store), _fragment(alice_client, store)):
        assert response.status_code == 200
        text = _text(response)
        assert live.UNREACHABLE in text
        assert "Usage appears when the cluster answers." in text
        # The rest of the page is there, from the database.
        assert "Quota, limits and network policies" in text
        assert StoreEvent.objects.filter(store=store).last().message in text
        assert "10.0.0.1" not in text  # the detail is logged for the operator, not shown


def test_it_says_the_cluster_is_unreachable_with_a_kubeconfig_on_a_closed_port(alice_client, store, settings, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: gone, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: gone, context: {{cluster: gone, user: u}}}}]
current-context: gone
""")
    settings.KUBECONFIG = str(kubeconfig)
    settings.KUBE_CONTEXT = ""

    response = _fragment(alice_client, store)

    assert response.status_code == 200
    assert live.UNREACHABLE in _text(response)


def test_it_reads_the_cluster_once_per_cache_period(alice_client, store, fake_cluster, settings):
    settings.CLUSTER_READ_CACHE_SECONDS = 60
    fake_cluster.live_pods = {NS: [_pod("web-1")]}

    for _ in range(3):
        assert "web-1" in _text(_fragment(alice_client, store))
    assert [c for c in fake_cluster.calls if c[0] == "pods"] == [("pods", NS)]

    cache.delete(live.cache_key(store))
    fake_cluster.live_pods = {NS: [_pod("web-2")]}
    assert "web-2" in _text(_fragment(alice_client, store))
    assert len([c for c in fake_cluster.calls if c[0] == "pods"]) == 2


def test_it_reads_afresh_when_the_store_moves_on(alice_client, store, fake_cluster, settings):
    settings.CLUSTER_READ_CACHE_SECONDS = 60
    assert "No pods" in _text(_fragment(alice_client, store))
    fake_cluster.live_events = {NS: [_event(datetime.now(UTC), "FailedCreate", REFUSED)]}

    # Failing is the last answer the page polls for: it must carry the event, not a read from before.
    lifecycle.mark_failed(store.pk, "quota exceeded", code=FailureCode.QUOTA, step="workloads")
    response = _fragment(alice_client, store)

    assert response.status_code == 286
    assert "exceeded quota" in _text(response)


def test_it_remembers_an_unreachable_cluster_too(alice_client, store, fake_cluster, settings):
    settings.CLUSTER_READ_CACHE_SECONDS = 0
    fake_cluster.unreachable = True

    for _ in range(3):
        assert live.UNREACHABLE in _text(_fragment(alice_client, store))
    assert [c for c in fake_cluster.calls if c[0] == "pods"] == [("pods", NS)]


def test_it_stops_at_the_first_failed_read(alice_client, store, fake_cluster):
    fake_cluster.unreachable = True

    _fragment(alice_client, store)

    assert [c[0] for c in fake_cluster.calls] == ["pods"]


@pytest.mark.parametrize("status", [Status.DELETED, Status.QUEUED])
def test_it_does_not_read_the_cluster_when_there_is_no_namespace(alice_client, alice, fake_cluster, status):
    store = lifecycle.create_store(alice, "fresh", "woocommerce")  # queued, never started
    if status == Status.DELETED:
        Store.objects.filter(pk=store.pk).update(status=Status.DELETED, started_at=datetime.now(UTC))

    response = _detail(alice_client, store)

    assert response.status_code == 200
    assert fake_cluster.calls == []
    assert "Pods" not in _text(response)


def test_it_keeps_polling_the_live_parts_while_provisioning_and_stops_once_ready(alice_client, store, fake_cluster):
    fake_cluster.live_pods = {NS: [_pod("web-1", ready=0, reason="ContainerCreating", phase="Pending")]}

    busy = _fragment(alice_client, store)
    assert busy.status_code == 200
    assert "hx-trigger=\"every 2s [document.visibilityState === 'visible']\"" in busy.content.decode()
    assert "ContainerCreating" in _text(busy)

    token = lifecycle.take_lease(store.pk, Status.PROVISIONING)
    lifecycle.mark_ready(store.pk, token, "Store is ready.")
    fake_cluster.live_pods = {NS: [_pod("web-1")]}
    done = _fragment(alice_client, store)

    assert done.status_code == 286
    assert "hx-trigger" not in done.content.decode()
    assert "web-1 1/1 0 Running" in _text(done)


def test_the_page_is_accessible_without_colour_or_a_mouse(alice_client, store, fake_cluster):
    body = _detail(alice_client, store).content.decode()

    # The scrolling feed takes keyboard focus and is a labelled region.
    assert re.search(
        r'<div class="feed-scroll" id="activity-feed" role="region" '
        r'aria-labelledby="activity-title" tabindex="0">',
        body,
    )
    assert '<h2 class="section-title" id="activity-title">Activity</h2>' in body
    # Headings go h1, then h2s: nothing skips a level.
    levels = [int(n) for n in re.findall(r"<h([1-6])[ >]", body)]
    assert levels[0] == 1 and set(levels[1:]) == {2}
    # Each step's state is said in words, not only by its dot's colour.
    assertInHTML(
        '<li class="step step-pending"><span class="dot" aria-hidden="true"></span>'
        '<span class="visually-hidden">Pending: </span><span class="label">Namespace</span></li>',
        body,
    )
    assert "Done: </span>" not in body
