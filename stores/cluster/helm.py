"""The ``helm`` CLI, driven with JSON output.

Helm runs as a child process in its own process group, so stopping a
provisioning run can terminate helm and anything it started. Values go
through a private temporary file that is removed afterwards.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from .errors import ClusterError, ClusterUnavailable, FailureCode, Stopped

# Release states in which Helm refuses to upgrade ("another operation is in
# progress"): a previous helm run was killed half-way.
STUCK_STATES = frozenset({"pending-install", "pending-upgrade", "pending-rollback", "uninstalling"})
# Revisions that prove the release once worked, so a failed upgrade can be
# upgraded again instead of being thrown away.
DEPLOYED_STATES = frozenset({"deployed", "superseded"})

POLL_SECONDS = 0.5
# The clock a stoppable run's deadline is read from (tests move it on).
clock: Callable[[], float] = time.monotonic
# After SIGTERM helm gets this long to release its lock before SIGKILL.
TERMINATE_GRACE_SECONDS = 5
# Extra time beyond helm's own --timeout before we give up on the process.
PROCESS_GRACE_SECONDS = 30
MAX_ERROR_CHARS = 800


class HelmCli:
    def __init__(
        self,
        binary: str,
        kubeconfig: str | None,
        kube_context: str | None = None,
        *,
        command_timeout: float = 60,
    ):
        self.binary = binary
        self.kubeconfig = kubeconfig
        self.kube_context = kube_context
        # Upper bound for the short read-only commands (status, list, history).
        self.command_timeout = command_timeout

    # ------------------------------------------------------------ queries

    def status(self, release: str, namespace: str) -> dict[str, Any] | None:
        """`helm status -o json`, or None when there is no such release."""
        result = self._run(["status", release, "--namespace", namespace, "-o", "json"])
        if result.returncode != 0:
            if _not_found(result.stderr):
                return None
            raise self._failure(f"helm status {release}", result.stderr)
        return cast("dict[str, Any] | None", _parse_json(result.stdout, f"helm status {release}"))

    def history(self, release: str, namespace: str) -> list[dict[str, Any]]:
        """Revisions of a release, oldest first ([] when there is none)."""
        result = self._run(["history", release, "--namespace", namespace, "--max", "256", "-o", "json"])
        if result.returncode != 0:
            if _not_found(result.stderr):
                return []
            raise self._failure(f"helm history {release}", result.stderr)
        return _parse_json(result.stdout, f"helm history {release}") or []

    def get_values(self, release: str, namespace: str, revision: int | None = None) -> dict[str, Any]:
        """The values a revision was rendered with, the chart's defaults included
        (`helm get values --all`); {} when there is no such release."""
        args = ["get", "values", release, "--namespace", namespace, "--all", "-o", "json"]
        if revision is not None:
            args += ["--revision", str(int(revision))]
        result = self._run(args)
        if result.returncode != 0:
            if _not_found(result.stderr):
                return {}
            raise self._failure(f"helm get values {release}", result.stderr)
        return _parse_json(result.stdout, f"helm get values {release}") or {}

    def list_releases(self, all_namespaces: bool = True, namespace: str | None = None) -> list[dict[str, Any]]:
        """`helm list -a -o json` over all namespaces (or one): dicts with
        name, namespace, status, revision, chart, app_version, updated."""
        scope = ["--all-namespaces"] if all_namespaces else ["--namespace", namespace or "default"]
        # --max 0 means "the server's default", not "all"; ask for more than
        # the platform will ever hold.
        result = self._run(["list", *scope, "--all", "--max", "100000", "-o", "json"])
        if result.returncode != 0:
            raise self._failure("helm list", result.stderr)
        return _parse_json(result.stdout, "helm list") or []

    # ------------------------------------------------------------ changes

    def upgrade_install(
        self,
        release: str,
        chart_path: str,
        namespace: str,
        values: dict[str, Any],
        *,
        timeout_seconds: int,
        should_stop: Callable[[], str | None],
        values_files: Sequence[str] = (),
    ) -> dict[str, Any]:
        """Install or upgrade the release without waiting for pods.

        `values_files` (profiles, operator overrides) are given first and
        `values` last, so the platform's own values for the store always win.

        Returns helm's release summary: name, namespace, version, info
        (status, timestamps, description) and chart metadata. The rendered
        manifest, notes and values are left out on purpose, as they may hold
        credentials.
        """
        reason = should_stop()
        if reason:
            raise Stopped(reason)
        self._clear_unusable_release(release, namespace, should_stop)

        fd, values_path = tempfile.mkstemp(prefix="store-values-", suffix=".json")  # mode 0600
        try:
            with os.fdopen(fd, "w") as values_file:
                json.dump(values, values_file)  # JSON is valid YAML
            args = [
                "upgrade",
                release,
                chart_path,
                "--install",
                "--namespace",
                namespace,
                *[arg for path in values_files for arg in ("--values", str(path))],
                "--values",
                values_path,
                "--timeout",
                f"{int(timeout_seconds)}s",
                # Bounds the release Secrets Helm keeps per store.
                "--history-max",
                "10",
                # Helm's client-side check downloads the API server's whole
                # OpenAPI document on every install: about 0.25 s of CPU in
                # helm and as much in the API server, which is what two
                # provisions at once contend for. The API server still
                # validates every object, and the test suite dry-runs each
                # chart server-side with strict field validation.
                "--disable-openapi-validation",
                "-o",
                "json",
            ]
            stdout, stderr, returncode = self._run_stoppable(args, should_stop, timeout_seconds + PROCESS_GRACE_SECONDS)
        finally:
            try:
                os.unlink(values_path)
            except FileNotFoundError:
                pass
        if returncode != 0:
            raise self._failure(f"helm upgrade {release}", stderr)
        return _release_summary(_parse_json(stdout, f"helm upgrade {release}"))

    def uninstall(
        self,
        release: str,
        namespace: str,
        *,
        timeout_seconds: int = 120,
        should_stop: Callable[[], str | None] | None = None,
    ) -> bool:
        """Remove the release; False when it did not exist."""
        result = self._run(
            ["uninstall", release, "--namespace", namespace, "--timeout", f"{int(timeout_seconds)}s"],
            timeout=timeout_seconds + PROCESS_GRACE_SECONDS,
            should_stop=should_stop,
        )
        if result.returncode != 0:
            if _not_found(result.stderr):
                return False
            raise self._failure(f"helm uninstall {release}", result.stderr)
        return True

    def rollback(
        self,
        release: str,
        namespace: str,
        revision: int,
        *,
        timeout_seconds: int = 120,
        should_stop: Callable[[], str | None] | None = None,
    ) -> None:
        result = self._run(
            ["rollback", release, str(revision), "--namespace", namespace, "--timeout", f"{int(timeout_seconds)}s"],
            timeout=timeout_seconds + PROCESS_GRACE_SECONDS,
            should_stop=should_stop,
        )
        if result.returncode != 0:
            raise self._failure(f"helm rollback {release}", result.stderr)

    def _clear_unusable_release(self, release: str, namespace: str, should_stop: Callable[[], str | None]) -> None:
        """Make a release Helm would refuse to upgrade upgradable again.

        A release that never deployed (a failed or interrupted first install)
        is uninstalled, so the next install starts clean. One stuck mid-upgrade
        after it had deployed is rolled back to its last good revision instead:
        uninstalling it would delete the store's volumes with its data.
        """
        current = self.status(release, namespace)
        if current is None:
            return
        state = (current.get("info") or {}).get("status", "")
        if state not in STUCK_STATES and state != "failed":
            return
        # helm history gives every revision its number.
        good = cast(
            "list[int]",
            [rev.get("revision") for rev in self.history(release, namespace) if rev.get("status") in DEPLOYED_STATES],
        )
        if not good:
            self.uninstall(release, namespace, should_stop=should_stop)
        elif state in STUCK_STATES:
            self.rollback(release, namespace, max(good), should_stop=should_stop)

    # ------------------------------------------------------------ plumbing

    def _command(self, args: list[str]) -> list[str]:
        command = [self.binary]
        if self.kubeconfig:
            command += ["--kubeconfig", self.kubeconfig]
        if self.kube_context:
            command += ["--kube-context", self.kube_context]
        return command + args

    def _run(
        self, args: list[str], timeout: float | None = None, should_stop: Callable[[], str | None] | None = None
    ) -> subprocess.CompletedProcess[str]:
        timeout = timeout or self.command_timeout
        if should_stop is not None:
            stdout, stderr, returncode = self._run_stoppable(args, should_stop, timeout)
            return subprocess.CompletedProcess(self._command(args), returncode, stdout, stderr)
        try:
            proc = subprocess.Popen(
                self._command(args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
        except OSError as exc:
            raise ClusterError(f"can not run helm ({self.binary}): {exc.strerror}", FailureCode.HELM) from exc
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _terminate(proc)
            raise ClusterError(f"helm {args[0]} did not finish within {int(timeout)} s", FailureCode.HELM) from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    def _run_stoppable(
        self, args: list[str], should_stop: Callable[[], str | None], timeout: float
    ) -> tuple[str, str, int]:
        try:
            proc = subprocess.Popen(
                self._command(args),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,  # own process group: killpg reaches its children
            )
        except OSError as exc:
            raise ClusterError(f"can not run helm ({self.binary}): {exc.strerror}", FailureCode.HELM) from exc
        deadline = clock() + timeout
        while True:
            try:
                # communicate() keeps draining the pipes, so a chatty helm can
                # not block on a full pipe while we poll.
                stdout, stderr = proc.communicate(timeout=POLL_SECONDS)
                return stdout, stderr, proc.returncode
            except subprocess.TimeoutExpired:
                pass
            reason = should_stop()
            if reason:
                _terminate(proc)
                raise Stopped(reason)
            if clock() > deadline:
                _terminate(proc)
                raise ClusterError(f"helm {args[0]} did not finish within {int(timeout)} s", FailureCode.HELM)

    def _failure(self, what: str, stderr: str) -> ClusterError:
        message = _clean_stderr(stderr)
        # helm relays the API server's refusal as text: its wording is all there is to classify.
        if "cluster unreachable" in message.lower():
            return ClusterUnavailable(f"{what} failed: {message}")
        if "exceeded quota" in message:
            return ClusterError(f"{what} failed: {message}", FailureCode.QUOTA)
        return ClusterError(f"{what} failed: {message}", FailureCode.HELM)


def _terminate(proc: subprocess.Popen[str]) -> None:
    """SIGTERM the process group, then SIGKILL whatever is still there."""
    for sig, wait in ((signal.SIGTERM, TERMINATE_GRACE_SECONDS), (signal.SIGKILL, TERMINATE_GRACE_SECONDS)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.communicate(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _not_found(stderr: str) -> bool:
    # "Error: release: not found", "Error: uninstall: Release not loaded: x: release: not found"
    return "release: not found" in (stderr or "").lower()


def _clean_stderr(stderr: str) -> str:
    # Helm prints kubeconfig permission WARNINGs before the actual error.
    lines = [line.strip() for line in (stderr or "").splitlines() if line.strip() and not line.startswith("WARNING:")]
    text = " ".join(lines) or "no error output"
    if text.startswith("Error: "):
        text = text[len("Error: ") :]
    return text if len(text) <= MAX_ERROR_CHARS else "…" + text[-(MAX_ERROR_CHARS - 1) :]


def _parse_json(stdout: str, what: str) -> Any:
    try:
        return json.loads(stdout) if stdout.strip() else None
    except ValueError as exc:
        raise ClusterError(f"{what} printed something that is not JSON") from exc


def _release_summary(release: dict[str, Any] | None) -> dict[str, Any]:
    release = release or {}
    chart = release.get("chart") or {}
    return {
        "name": release.get("name"),
        "namespace": release.get("namespace"),
        "version": release.get("version"),
        # NOTES.txt is rendered from values too, so it stays out as well.
        "info": {k: v for k, v in (release.get("info") or {}).items() if k != "notes"},
        "chart": {"metadata": chart.get("metadata") or {}},
    }
