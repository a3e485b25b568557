"""The store page's reads: pods, Events and quota usage, from API-shaped dicts."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
import urllib3
from kubernetes.client.exceptions import ApiException

from stores.cluster import ClusterError, ClusterUnavailable, KubernetesClient, connect
from stores.cluster.reads import ClusterEvent, fold_events, pod_status, quota_lines
from stores.cluster.tests.fakes import FakeKind, fake_api, raising

T0 = "2026-03-01T10:00:00Z"


def _pod(name="web-1", phase="Running", statuses=None, containers=("web",), **status):
    return {
        "metadata": {"name": name, "creationTimestamp": T0},
        "spec": {"containers": [{"name": c} for c in containers]},
        "status": {"phase": phase, "containerStatuses": statuses or [], **status},
    }


def _container(name="web", ready=False, restarts=0, state=None, last=None):
    return {"name": name, "ready": ready, "restartCount": restarts, "state": state or {}, "lastState": last or {}}


def _event(
    reason="FailedCreate",
    message="boom",
    kind="ReplicaSet",
    name="web-5d8f9",
    type_="Warning",
    count=None,
    last=T0,
    first=None,
    series=None,
    event_name=None,
):
    event = {
        "metadata": {"name": event_name or f"{name}.{reason}.{last}", "creationTimestamp": first or last},
        "involvedObject": {"kind": kind, "name": name},
        "reason": reason,
        "message": message,
        "type": type_,
        "lastTimestamp": last,
        "firstTimestamp": first or last,
    }
    if count is not None:
        event["count"] = count
    if series is not None:
        event["series"] = series
    return event


def _quota(hard, used=None, name="store-quota"):
    quota = {"metadata": {"name": name}, "spec": {"hard": hard}}
    if used is not None:
        quota["status"] = {"hard": hard, "used": used}
    return quota


# ---------------------------------------------------------------- pods


def test_it_counts_ready_containers_and_restarts():
    pod = _pod(
        containers=("web", "sidecar"),
        statuses=[
            _container("web", ready=True, restarts=2, state={"running": {}}),
            _container("sidecar", ready=False, restarts=1, state={"running": {}}),
        ],
    )

    status = pod_status(pod)

    assert (status.name, status.ready, status.containers, status.restarts) == ("web-1", 1, 2, 3)
    assert status.created_at == datetime(2026, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "reason", ["ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "CrashLoopBackOff"]
)
def test_it_gives_the_waiting_reason(reason):
    waiting = {"waiting": {"reason": reason, "message": 'secret "store-secret"   not found'}}
    status = pod_status(_pod(phase="Pending", statuses=[_container(state=waiting)]))

    assert status.reason == reason
    assert status.message == 'secret "store-secret" not found'
    assert not status.healthy


def test_it_gives_the_reason_a_restarting_container_last_died():
    state = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}
    last = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}

    status = pod_status(_pod(statuses=[_container(restarts=4, state=state, last=last)]))

    assert (status.reason, status.last_reason, status.restarts) == ("CrashLoopBackOff", "OOMKilled", 4)


def test_it_gives_a_terminated_reason_but_not_a_clean_exit():
    killed = {"terminated": {"reason": "OOMKilled", "exitCode": 137}}
    done = {"terminated": {"reason": "Completed", "exitCode": 0}}

    assert pod_status(_pod(phase="Failed", statuses=[_container(state=killed)])).reason == "OOMKilled"
    finished = pod_status(_pod(phase="Succeeded", statuses=[_container(state=done)]))
    assert finished.reason == ""
    assert finished.healthy


def test_it_reports_an_unschedulable_pod_and_an_evicted_one():
    unschedulable = _pod(
        phase="Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available: 2 Insufficient cpu.",
            }
        ],
    )
    evicted = _pod(phase="Failed", reason="Evicted", message="The node was low on resource: memory.")

    assert (pod_status(unschedulable).reason, pod_status(unschedulable).message) == (
        "Unschedulable",
        "0/2 nodes are available: 2 Insufficient cpu.",
    )
    assert pod_status(evicted).reason == "Evicted"


def test_it_says_terminating_for_a_pod_on_its_way_out():
    pod = _pod(statuses=[_container(ready=True, state={"running": {}})])
    pod["metadata"]["deletionTimestamp"] = T0

    assert pod_status(pod).reason == "Terminating"


def test_a_running_ready_pod_is_healthy():
    status = pod_status(_pod(statuses=[_container(ready=True, state={"running": {}})]))

    assert status.reason == ""
    assert status.healthy


# ---------------------------------------------------------------- events


def test_it_sorts_events_newest_first():
    events = fold_events(
        [
            _event(reason="Scheduled", type_="Normal", last="2026-03-01T10:00:00Z"),
            _event(reason="Pulled", type_="Normal", last="2026-03-01T10:00:05Z"),
            _event(reason="Created", type_="Normal", last="2026-03-01T10:00:02Z"),
        ]
    )

    assert [e.reason for e in events] == ["Pulled", "Created", "Scheduled"]
    assert not events[0].warning


def test_it_takes_the_count_from_the_event_or_its_series():
    events = fold_events(
        [
            _event(reason="BackOff", name="web-1", kind="Pod", count=12),
            _event(reason="FailedMount", name="db-0", kind="Pod", series={"count": 7, "lastObservedTime": T0}),
            _event(reason="Started", name="web-1", kind="Pod", type_="Normal"),
        ]
    )

    assert {e.reason: e.count for e in events} == {"BackOff": 12, "FailedMount": 7, "Started": 1}


def test_it_folds_repeats_with_the_same_reason_object_and_message():
    refused = 'Error creating: pods "web-x" is forbidden: exceeded quota: store-quota'
    events = fold_events(
        [
            _event(message=refused, count=3, first="2026-03-01T10:00:00Z", last="2026-03-01T10:00:10Z", event_name="a"),
            _event(message=refused, count=9, first="2026-03-01T10:00:11Z", last="2026-03-01T10:01:00Z", event_name="b"),
            _event(message="another message", event_name="c"),
            _event(message=refused, name="other-rs", event_name="d"),
        ]
    )

    (folded,) = [e for e in events if e.message == refused and e.object == "ReplicaSet/web-5d8f9"]
    assert folded == ClusterEvent(
        time=datetime(2026, 3, 1, 10, 1, tzinfo=UTC),
        first_time=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
        type="Warning",
        reason="FailedCreate",
        object="ReplicaSet/web-5d8f9",
        message=refused,
        count=12,
    )
    assert folded.warning
    assert len(events) == 3


def test_it_reads_events_k8s_io_fields():
    event = {
        "metadata": {"name": "e", "creationTimestamp": T0},
        "regarding": {"kind": "Pod", "name": "web-1"},
        "note": "Back-off pulling image",
        "reason": "BackOff",
        "type": "Warning",
        "eventTime": "2026-03-01T10:02:00.000000Z",
    }

    (folded,) = fold_events([event])

    assert (folded.object, folded.message, folded.count) == ("Pod/web-1", "Back-off pulling image", 1)
    assert folded.time == datetime(2026, 3, 1, 10, 2, tzinfo=UTC)


# ---------------------------------------------------------------- quota


def test_it_gives_used_against_hard_for_every_resource():
    lines = quota_lines(
        _quota(
            {"requests.cpu": "2", "requests.memory": "3Gi", "pods": "10", "services.nodeports": "0"},
            {"requests.cpu": "750m", "requests.memory": "1536Mi", "pods": "10", "services.nodeports": "0"},
        )
    )

    by_resource = {line.resource: line for line in lines}
    assert (by_resource["requests.cpu"].used, by_resource["requests.cpu"].hard) == ("750m", "2")
    assert by_resource["requests.cpu"].fraction == pytest.approx(0.375)
    assert by_resource["requests.memory"].fraction == pytest.approx(0.5)
    assert by_resource["pods"].exhausted
    assert not by_resource["requests.cpu"].exhausted
    assert by_resource["services.nodeports"].fraction == 0


def test_it_leaves_the_usage_unknown_before_the_first_count():
    (line,) = quota_lines(_quota({"pods": "10"}))

    assert (line.used, line.hard, line.fraction, line.exhausted) == ("", "10", None, False)


# ---------------------------------------------------------------- through KubernetesClient


def test_cluster_lists_pods_by_name():
    pods = FakeKind(_pod("web-2"), _pod("db-0"), _pod("web-1"))

    assert [p.name for p in KubernetesClient(fake_api(pods=pods)).list_pods("store-acme")] == ["db-0", "web-1", "web-2"]


def test_cluster_lists_folded_events_up_to_the_limit():
    events = FakeKind(
        *[
            _event(reason=f"R{i}", type_="Normal", last=f"2026-03-01T10:00:{i:02d}Z", event_name=f"e{i}")
            for i in range(10)
        ]
    )

    listed = KubernetesClient(fake_api(events=events)).list_events("store-acme", limit=3)

    assert [e.reason for e in listed] == ["R9", "R8", "R7"]


def test_cluster_reads_quota_usage():
    quota = FakeKind(_quota({"pods": "10"}, {"pods": "4"}))

    (line,) = KubernetesClient(fake_api(resourcequotas=quota)).quota_usage("store-acme")

    assert (line.quota, line.resource, line.used, line.hard) == ("store-quota", "pods", "4", "10")


@pytest.mark.parametrize("method", ["list_pods", "list_events", "quota_usage"])
def test_cluster_reads_say_unreachable_when_the_server_does_not_answer(method):
    api = fake_api()
    timeout = urllib3.exceptions.ReadTimeoutError(None, "/api/v1", "Read timed out. (read timeout=2)")
    for kind in api.kinds.values():
        kind.list_error = timeout

    with pytest.raises(ClusterUnavailable, match=r"unreachable .*Read timed out"):
        getattr(KubernetesClient(api), method)("store-acme")


def test_cluster_reads_pass_on_a_refusal():
    api = fake_api()
    api.core.list_namespaced_pod = raising(
        ApiException(status=403, reason="Forbidden", body='{"message": "pods is forbidden"}')
    )

    with pytest.raises(ClusterError, match="listing pods in store-acme failed: pods is forbidden"):
        KubernetesClient(api).list_pods("store-acme")


def test_cluster_reads_give_up_at_once_on_a_closed_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"""
apiVersion: v1
kind: Config
clusters: [{{name: gone, cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}}}]
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: gone, context: {{cluster: gone, user: u}}}}]
current-context: gone
""")
    kube = connect(str(kubeconfig), request_timeout=2)

    with pytest.raises(ClusterUnavailable, match=f"127.0.0.1:{port} is unreachable while listing pods"):
        kube.list_pods("store-acme")
