"""wait_until_ready's loop: watch-driven wake-ups, failing fast, stopping."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException

from stores.cluster import ClusterError, ClusterUnavailable, Stopped, WorkloadFailed, readiness
from stores.cluster.readiness import wait_until_ready

from .factories import condition, deployment, job, pod
from .fakes import FakeKind, FakeWatch, fake_api, not_found, raising


@pytest.fixture(autouse=True)
def fake_watch(monkeypatch):
    FakeWatch.instances.clear()
    monkeypatch.setattr(readiness, "watch", SimpleNamespace(Watch=FakeWatch))
    monkeypatch.setattr(readiness, "WATCH_CHUNK_SECONDS", 1)
    monkeypatch.setattr(readiness, "COALESCE_SECONDS", 0)


def deadline(seconds: float = 10):
    """A should_stop that gives up after `seconds`: a wait that never ends
    fails with this reason instead of hanging the test run."""
    started = time.monotonic()
    return lambda: f"test deadline of {seconds} s passed" if time.monotonic() - started > seconds else None


class ScriptedTime:
    """The wait's clock (readiness.clock), moved only by the wait itself.

    A wait for a change with nothing scripted before its timeout "sleeps" the
    whole timeout at once; a scripted action due before it moves the clock to
    its time, runs (a change through the fake watch), and the real wait then
    sees that change arrive. `storm`: every wait sees a change after that many
    seconds. Times are binary fractions, so the sums are exact.
    """

    START = 1000.0

    def __init__(self, monkeypatch):
        self.now = self.START
        self.script: list[tuple[float, object]] = []
        self.storm: float | None = None
        real_wait_for_change = readiness.NamespaceWatch.wait_for_change

        def wait_for_change(namespace_watch, timeout):
            if self.storm is not None and self.storm <= timeout:
                self.now += self.storm
                return True
            if self.script and self.script[0][0] <= self.now + timeout:
                due, action = self.script.pop(0)
                self.now = max(self.now, due)
                action()
                assert real_wait_for_change(namespace_watch, 5), "the fake watch never passed the change on"
                return True
            self.now += timeout
            return False

        monkeypatch.setattr(readiness, "clock", lambda: self.now)
        monkeypatch.setattr(readiness.NamespaceWatch, "wait_for_change", wait_for_change)

    def at(self, seconds: float, action) -> None:
        """Run `action` once the wait's clock reads `seconds` from the start."""
        self.script.append((self.START + seconds, action))
        self.script.sort(key=lambda item: item[0])

    def elapsed(self) -> float:
        return self.now - self.START


@pytest.fixture
def scripted_time(monkeypatch):
    return ScriptedTime(monkeypatch)


def later(seconds: float, action) -> threading.Timer:
    timer = threading.Timer(seconds, action)
    timer.daemon = True
    timer.start()
    return timer


def test_it_returns_at_once_when_everything_is_ready():
    api = fake_api(deployments=FakeKind(deployment("web")), jobs=FakeKind(job(succeeded=1)))
    lines = []
    wait_until_ready(api, "store-acme", should_stop=deadline(), on_progress=lines.append)
    assert lines == ["web 1/1 ready", "job store-acme-setup 1/1 succeeded"]


@pytest.mark.timeout(60)
def test_it_wakes_up_on_a_watch_event_not_on_the_poll_interval():
    # The poll interval is longer than the test may run: only the watch
    # event can end this wait before the test's timeout fails it.
    deployments = FakeKind(deployment("web", available=0))
    api = fake_api(deployments=deployments)
    lines = []
    later(0.2, lambda: deployments.put(deployment("web")))
    wait_until_ready(api, "store-acme", should_stop=deadline(600), on_progress=lines.append, poll_seconds=600)
    assert lines == ["web 0/1 ready", "web 1/1 ready"]


def test_it_fails_fast_on_a_broken_pod():
    pods = FakeKind()
    api = fake_api(deployments=FakeKind(deployment("web", available=0)), pods=pods)
    later(0.2, lambda: pods.put(pod("web-abc", waiting="ErrImagePull", message="pull access denied")))
    with pytest.raises(WorkloadFailed, match=r"^pod web-abc: ErrImagePull: pull access denied$"):
        wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=30)


def test_it_stops_when_asked_and_asks_every_poll_interval(scripted_time):
    api = fake_api(deployments=FakeKind(deployment("web", available=0)))
    asked = []

    def should_stop():
        asked.append(scripted_time.elapsed())
        return "cancelled by owner" if len(asked) >= 4 else None

    with pytest.raises(Stopped) as stopped:
        wait_until_ready(api, "store-acme", should_stop=should_stop, poll_seconds=0.25)
    assert stopped.value.reason == "cancelled by owner"
    assert asked == [0, 0.25, 0.5, 0.75]  # nothing changed: asked once per poll interval


def test_it_asks_should_stop_at_most_twice_per_interval_under_event_storms(scripted_time):
    api = fake_api(deployments=FakeKind(deployment("web", available=0)))
    scripted_time.storm = 1 / 64  # a change every 16 ms wakes the wait
    asked = []

    def should_stop():
        asked.append(scripted_time.elapsed())
        return "enough" if scripted_time.elapsed() > 1 else None

    with pytest.raises(Stopped):
        wait_until_ready(api, "store-acme", should_stop=should_stop, poll_seconds=0.5)
    assert asked == [0, 0.25, 0.5, 0.75, 1, 1.25]


def test_it_waits_for_workloads_to_appear():
    deployments = FakeKind()
    api = fake_api(deployments=deployments)
    later(0.3, lambda: deployments.put(deployment("web")))
    wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=5)
    assert deployments.objects


def test_it_waits_until_ready_has_lasted_the_settle_time(scripted_time):
    deployments = FakeKind(deployment("web"))
    api = fake_api(deployments=deployments)
    # Ready at first, then a pod dies; ready again at 0.375 s.
    scripted_time.at(0.125, lambda: deployments.put(deployment("web", available=0)))
    scripted_time.at(0.375, lambda: deployments.put(deployment("web")))
    wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=1, settle_seconds=0.5)
    assert scripted_time.elapsed() == 0.375 + 0.5  # the settle time counts from the last time it became ready


def test_it_forgets_deleted_objects():
    deployments = FakeKind(deployment("web"), deployment("old", available=0))
    api = fake_api(deployments=deployments)
    later(0.2, lambda: deployments.delete("old"))
    wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=5)


def test_it_reports_an_unreachable_api_server_at_once():
    pods = FakeKind()
    pods.list_error = ApiException(status=0, reason="connection refused")
    with pytest.raises(ClusterUnavailable, match="unreachable while listing workloads"):
        wait_until_ready(fake_api(pods=pods), "store-acme", should_stop=deadline())


def test_it_gives_up_when_a_watch_is_refused():
    events = FakeKind()
    events.watch_error = ApiException(
        status=403, reason="Forbidden", body='{"message": "events is forbidden: User cannot watch"}'
    )
    api = fake_api(deployments=FakeKind(deployment("web", available=0)), events=events)
    with pytest.raises(ClusterError, match="events is forbidden"):
        wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=0.1)


def test_it_rides_out_a_short_disconnect(monkeypatch):
    deployments = FakeKind(deployment("web", available=0))
    deployments.watch_error = ApiException(status=0, reason="connection reset")
    api = fake_api(deployments=deployments)

    def heal():
        deployments.watch_error = None
        deployments.objects["web"] = deployment("web")  # seen by the re-list

    later(0.3, heal)
    wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=0.1)


def test_it_gives_up_after_a_long_disconnect(monkeypatch):
    monkeypatch.setattr(readiness, "RECONNECT_GRACE_SECONDS", 0.3)
    deployments = FakeKind(deployment("web", available=0))
    deployments.watch_error = ApiException(status=0, reason="connection reset")
    with pytest.raises(ClusterUnavailable):
        wait_until_ready(fake_api(deployments=deployments), "store-acme", should_stop=deadline(), poll_seconds=0.1)


def test_it_stops_its_watches_when_done():
    before = {t.name for t in threading.enumerate()}
    wait_until_ready(fake_api(deployments=FakeKind(deployment("web"))), "store-acme", should_stop=deadline())
    time.sleep(0.1)
    lingering = {t.name for t in threading.enumerate()} - before
    assert not [name for name in lingering if name.startswith("watch-")]
    assert all(w._stopped.is_set() for w in FakeWatch.instances)


@pytest.mark.parametrize("phase, state", [(None, "missing"), ("Terminating", "terminating")])
def test_it_refuses_to_wait_on_a_namespace_that_is_not_there(phase, state):
    api = fake_api(phase=phase)
    if phase is None:
        api.core.read_namespace = raising(not_found())
    with pytest.raises(ClusterError, match=f"^namespace store-acme is {state}$"):
        wait_until_ready(api, "store-acme", should_stop=deadline())


QUOTA_REFUSAL = (
    'pods "web-5d4f-x" is forbidden: exceeded quota: store-quota, requested: limits.cpu=1, '
    "used: limits.cpu=3500m, limited: limits.cpu=4"
)


def _refused_by_the_quota():
    return deployment(
        "web", available=0, conditions=[condition("ReplicaFailure", reason="FailedCreate", message=QUOTA_REFUSAL)]
    )


def test_a_quota_refusal_fails_at_once_without_a_grace(scripted_time):
    api = fake_api(deployments=FakeKind(_refused_by_the_quota()))
    with pytest.raises(WorkloadFailed, match=r"^quota exceeded: "):
        wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=1)
    assert scripted_time.elapsed() == 0


def test_a_replacement_rides_out_a_quota_that_still_counts_the_pods_it_replaced(scripted_time):
    deployments = FakeKind(_refused_by_the_quota())
    api = fake_api(deployments=deployments)
    # The quota controller recounts; the ReplicaSet controller's next try gets its pod.
    scripted_time.at(4, lambda: deployments.put(deployment("web")))
    wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=1, quota_grace_seconds=20)
    assert scripted_time.elapsed() == 4


def test_a_quota_refusal_that_outlasts_the_grace_fails(scripted_time):
    api = fake_api(deployments=FakeKind(_refused_by_the_quota()))
    with pytest.raises(WorkloadFailed, match=r"^quota exceeded: "):
        wait_until_ready(api, "store-acme", should_stop=deadline(), poll_seconds=1, quota_grace_seconds=20)
    assert scripted_time.elapsed() == 20
