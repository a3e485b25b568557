"""Helm wrapper against a stand-in helm script that records its calls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from stores.cluster import ClusterError, ClusterUnavailable, HelmCli, Stopped
from stores.cluster import helm as helm_module
from tests.waiting import wait_for

STANDIN = Path(__file__).with_name("standin_helm.py")


class StandIn:
    def __init__(self, tmp_path: Path, monkeypatch):
        self.state_path = tmp_path / "state.json"
        self.log_path = tmp_path / "calls.jsonl"
        self.binary = tmp_path / "helm"
        self.binary.write_text(f'#!/bin/sh\nexec {sys.executable} {STANDIN} "$@"\n')
        self.binary.chmod(0o755)
        monkeypatch.setenv("STANDIN_HELM_STATE", str(self.state_path))
        self.write({})

    def write(self, releases=None, upgrade=None, uninstall=None):
        state = {
            "log": str(self.log_path),
            "releases": releases or {},
            "upgrade": upgrade or {},
            "uninstall": uninstall or {},
        }
        self.state_path.write_text(json.dumps(state))

    def releases(self) -> dict:
        return json.loads(self.state_path.read_text())["releases"]

    def calls(self) -> list[dict]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [call["command"] for call in self.calls()]

    def helm(self) -> HelmCli:
        return HelmCli(str(self.binary), "/etc/store/kubeconfig", "store-ctx")


@pytest.fixture
def standin(tmp_path, monkeypatch):
    standin = StandIn(tmp_path, monkeypatch)
    yield standin
    # A test that failed may leave a long-running stand-in (and its child) behind.
    for call in standin.calls():
        for key in ("pid", "child_pid"):
            if process_alive(call.get(key, 0) or 0):
                os.kill(call[key], signal.SIGKILL)


def release(status, *history):
    return {
        "status": status,
        "namespace": "store-acme",
        "history": [{"revision": i + 1, "status": s} for i, s in enumerate(history or (status,))],
    }


def never_stop():
    return None


def install(helm: HelmCli, values=None, should_stop=never_stop, values_files=()):
    return helm.upgrade_install(
        "acme",
        "/charts/woocommerce",
        "store-acme",
        values or {"host": "acme.example"},
        timeout_seconds=300,
        should_stop=should_stop,
        values_files=values_files,
    )


def process_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # zombies are dead too


# ---------------------------------------------------------------- queries


def test_it_reads_the_status_as_json(standin):
    standin.write({"acme": release("deployed")})
    assert standin.helm().status("acme", "store-acme")["info"]["status"] == "deployed"
    call = standin.calls()[0]
    assert call["args"] == ["status", "acme", "--namespace", "store-acme", "-o", "json"]
    assert call["global"] == {"--kubeconfig": "/etc/store/kubeconfig", "--kube-context": "store-ctx"}


def test_it_returns_none_for_an_unknown_release(standin):
    assert standin.helm().status("nope", "store-acme") is None


def test_it_lists_releases_in_all_namespaces(standin):
    standin.write({"acme": release("deployed"), "beta": release("failed")})
    listed = standin.helm().list_releases()
    assert {(r["name"], r["status"]) for r in listed} == {("acme", "deployed"), ("beta", "failed")}
    args = standin.calls()[0]["args"]
    assert "--all-namespaces" in args and "--all" in args and args[-2:] == ["-o", "json"]


# ---------------------------------------------------------------- upgrade_install


def test_it_installs_a_new_release_without_waiting(standin):
    result = install(standin.helm())
    assert standin.commands() == ["status", "upgrade"]
    args = standin.calls()[1]["args"]
    assert args[:4] == ["upgrade", "acme", "/charts/woocommerce", "--install"]
    assert args[args.index("--namespace") + 1] == "store-acme"
    assert args[args.index("--timeout") + 1] == "300s"
    assert args[-2:] == ["-o", "json"]
    assert "--wait" not in args
    # The API server validates the objects; the OpenAPI download is skipped.
    assert "--disable-openapi-validation" in args
    assert result["info"]["status"] == "deployed" and result["version"] == 1


def test_it_returns_a_summary_without_manifest_notes_or_values(standin):
    result = install(standin.helm(), values={"admin": {"email": "owner@example.org"}})
    assert set(result) == {"name", "namespace", "version", "info", "chart"}
    assert "hunter2" not in json.dumps(result) and "owner@example.org" not in json.dumps(result)


def test_it_passes_values_in_a_private_file_it_removes_afterwards(standin):
    install(standin.helm(), values={"host": "acme.example", "replicas": 2})
    upgrade = standin.calls()[1]
    assert json.loads(upgrade["values"]) == {"host": "acme.example", "replicas": 2}
    assert upgrade["values_mode"] == "0o600"
    assert not os.path.exists(upgrade["values_path"])


def test_it_uninstalls_an_interrupted_first_install(standin):
    standin.write({"acme": release("pending-install")})
    install(standin.helm())
    assert standin.commands() == ["status", "history", "uninstall", "upgrade"]
    assert standin.releases()["acme"]["history"] == [{"revision": 1, "status": "deployed"}]


@pytest.mark.parametrize("stuck", ["pending-upgrade", "pending-rollback"])
def test_it_rolls_back_a_stuck_release_that_had_deployed(standin, stuck):
    # Uninstalling would delete the store's volumes: roll back to revision 2 instead.
    standin.write({"acme": release(stuck, "superseded", "deployed", stuck)})
    install(standin.helm())
    assert standin.commands() == ["status", "history", "rollback", "upgrade"]
    rollback = standin.calls()[2]["args"]
    assert rollback[:3] == ["rollback", "acme", "2"]
    assert len(standin.releases()["acme"]["history"]) == 5


def test_it_gives_values_files_before_the_platforms_values(standin):
    install(
        standin.helm(), values={"host": "acme.example"}, values_files=["/charts/values-kind.yaml", "/etc/extra.yaml"]
    )
    upgrade = standin.calls()[1]
    assert upgrade["values_files"] == ["/charts/values-kind.yaml", "/etc/extra.yaml"]
    assert json.loads(upgrade["values"]) == {"host": "acme.example"}


def test_it_uninstalls_a_failed_release_that_never_worked(standin):
    standin.write({"acme": release("failed")})
    install(standin.helm())
    assert standin.commands() == ["status", "history", "uninstall", "upgrade"]


def test_it_upgrades_a_failed_release_that_once_worked(standin):
    standin.write({"acme": release("failed", "superseded", "deployed", "failed")})
    install(standin.helm())
    assert standin.commands() == ["status", "history", "upgrade"]
    assert len(standin.releases()["acme"]["history"]) == 4


def test_it_just_upgrades_a_deployed_release(standin):
    standin.write({"acme": release("deployed")})
    install(standin.helm())
    assert standin.commands() == ["status", "upgrade"]


def test_it_reports_helms_error(standin):
    standin.write(upgrade={"fail": 'template: woocommerce/templates/x.yaml:3: function "nope" not defined'})
    with pytest.raises(ClusterError) as failure:
        install(standin.helm())
    assert str(failure.value) == (
        'helm upgrade acme failed: template: woocommerce/templates/x.yaml:3: function "nope" not defined'
    )
    assert not isinstance(failure.value, ClusterUnavailable)


def test_it_calls_an_unreachable_cluster_unavailable(standin):
    standin.write(upgrade={"fail": 'Kubernetes cluster unreachable: Get "https://10.0.0.1:6443/version": dial tcp'})
    with pytest.raises(ClusterUnavailable):
        install(standin.helm())


def test_it_trims_long_errors(standin):
    standin.write(upgrade={"fail": "x" * 5000 + " the end"})
    with pytest.raises(ClusterError) as failure:
        install(standin.helm())
    assert len(str(failure.value)) < 900 and str(failure.value).endswith("the end")


def test_it_fails_clearly_when_helm_is_missing(tmp_path):
    with pytest.raises(ClusterError, match="can not run helm"):
        HelmCli(str(tmp_path / "no-helm"), None).status("acme", "store-acme")


# ---------------------------------------------------------------- stopping


# The stand-in runs far longer than a test may (pytest.ini's timeout, or the
# tighter mark below): a stop that waited for helm to finish fails the test by
# its timeout, with no clock read in the test.
LONGER_THAN_A_TEST = 900


def stop_once_running(standin: StandIn, command: str):
    """A should_stop that says stop once the stand-in has started `command`."""
    return lambda: "store deleted by owner" if command in standin.commands() else None


@pytest.mark.timeout(60)
def test_it_terminates_helm_and_its_children_when_asked_to_stop(standin):
    standin.write(upgrade={"sleep": LONGER_THAN_A_TEST, "spawn_child": True})
    with pytest.raises(Stopped) as stopped:
        install(standin.helm(), should_stop=stop_once_running(standin, "upgrade"))
    assert stopped.value.reason == "store deleted by owner"
    upgrade = standin.calls()[1]
    assert "terminated" in standin.commands()  # SIGTERM first, helm could clean up
    assert not process_alive(upgrade["pid"])
    # The grandchild is reparented when its group is killed; it is gone
    # once the kernel has delivered the signal.
    wait_for(lambda: not process_alive(upgrade["child_pid"]), timeout=10, what="helm's child to die")
    assert not os.path.exists(upgrade["values_path"])


@pytest.mark.timeout(60)
def test_it_kills_helm_that_ignores_sigterm(standin, monkeypatch):
    monkeypatch.setattr(helm_module, "TERMINATE_GRACE_SECONDS", 0.5)
    standin.write(upgrade={"sleep": LONGER_THAN_A_TEST, "ignore_term": True})
    with pytest.raises(Stopped):
        install(standin.helm(), should_stop=stop_once_running(standin, "upgrade"))
    assert not process_alive(standin.calls()[1]["pid"])


class RecordingPopen(subprocess.Popen):
    """subprocess.Popen that notes how long each communicate() with a helm upgrade may wait."""

    waits: list[float | None] = []

    def communicate(self, input=None, timeout=None):
        if "upgrade" in self.args:
            RecordingPopen.waits.append(timeout)
        return super().communicate(input, timeout)


def test_it_asks_should_stop_while_helm_runs(standin, tmp_path, monkeypatch):
    monkeypatch.setattr(helm_module, "subprocess", SimpleNamespace(**{**vars(subprocess), "Popen": RecordingPopen}))
    monkeypatch.setattr(RecordingPopen, "waits", [])
    done = tmp_path / "helm-may-finish"
    standin.write(upgrade={"until_file": str(done)})
    asked = []

    def should_stop():
        if "upgrade" in standin.commands():
            asked.append(len(RecordingPopen.waits))
            if len(asked) == 3:
                done.touch()  # helm has been asked about three times while it ran: let it finish

    install(standin.helm(), should_stop=should_stop)

    assert len(asked) >= 3  # the run ended only because of the asks
    # Between two asks the run waits on helm for one poll interval at most.
    assert set(RecordingPopen.waits) == {helm_module.POLL_SECONDS}
    assert helm_module.POLL_SECONDS <= 0.5


def test_it_gives_up_on_helm_that_outlives_its_timeout(standin, monkeypatch):
    # Once helm runs, each ask comes 100 s after the last on the run's clock:
    # the deadline (helm's --timeout, 300 s, plus PROCESS_GRACE_SECONDS, 30 s)
    # has passed at the fourth.
    now = [0]

    def should_stop():
        if "upgrade" in standin.commands():
            now[0] += 100

    monkeypatch.setattr(helm_module, "clock", lambda: now[0])
    monkeypatch.setattr(helm_module, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(helm_module, "PROCESS_GRACE_SECONDS", 30)
    standin.write(upgrade={"sleep": LONGER_THAN_A_TEST})

    with pytest.raises(ClusterError, match="did not finish within 330 s"):
        install(standin.helm(), should_stop=should_stop)

    assert now[0] == 400  # the first look past the deadline, and not before
    (upgrade,) = [call for call in standin.calls() if call["command"] == "upgrade"]
    assert not process_alive(upgrade["pid"])


# ---------------------------------------------------------------- uninstall


def test_it_uninstalls_and_tolerates_absence(standin):
    standin.write({"acme": release("deployed")})
    helm = standin.helm()
    assert helm.uninstall("acme", "store-acme") is True
    assert helm.uninstall("acme", "store-acme") is False
    args = standin.calls()[0]["args"]
    assert args[:4] == ["uninstall", "acme", "--namespace", "store-acme"]
    assert args[args.index("--timeout") + 1] == "120s"


def test_it_does_not_start_helm_when_already_stopped(standin):
    with pytest.raises(Stopped):
        install(standin.helm(), should_stop=lambda: "cancelled")
    assert standin.calls() == []


@pytest.mark.timeout(60)
def test_it_stops_a_slow_uninstall_when_asked(standin):
    standin.write({"acme": release("deployed")}, uninstall={"sleep": LONGER_THAN_A_TEST})
    with pytest.raises(Stopped, match="store deleted by owner"):
        standin.helm().uninstall("acme", "store-acme", should_stop=stop_once_running(standin, "uninstall"))


@pytest.mark.timeout(60)
def test_it_stops_while_clearing_a_stuck_release(standin):
    standin.write({"acme": release("pending-install")}, uninstall={"sleep": LONGER_THAN_A_TEST})
    with pytest.raises(Stopped):
        install(standin.helm(), should_stop=stop_once_running(standin, "uninstall"))
    assert "upgrade" not in standin.commands()
