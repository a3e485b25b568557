"""Whether the cluster is ready for provisions while `make run` prepares the local control plane.

Where no cluster answers, `make run` serves the dashboard at once and brings
the local control plane up beside it (scripts/prepare-cluster.sh): on a first
run that is minutes of building from the Go module proxy. Each step is
reported in a small JSON file named by CLUSTER_STATUS_FILE (written by
localcluster/status.py); every page shows it, and no store is claimed for
provisioning until it says "ready", since a claimed store's deadline would run
with no cluster to provision into. The stores wait in line meanwhile and start
once it is ready.

Without CLUSTER_STATUS_FILE (a cluster that answered, kind, production) the
cluster is taken to be ready, as it always was.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

PREPARING, READY, FAILED = "preparing", "ready", "failed"


def in_words(seconds: float | None) -> str:
    """45 s, 2 min 05 s, 1 h 05 min: whole seconds, like a store's time in provisioning."""
    if seconds is None:
        return ""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{whole} s"
    minutes, whole = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {whole:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    state: str  # pending, running, done or failed
    seconds: float | None  # how long it took, or has run so far
    last_seconds: float | None  # how long it took last time

    @property
    def took(self) -> str:
        return in_words(self.seconds)

    @property
    def took_last_time(self) -> str:
        return in_words(self.last_seconds)


@dataclass(frozen=True)
class Preparation:
    state: str
    doing: str
    step: int
    of: int
    steps: tuple[Step, ...]
    elapsed_seconds: float
    last_duration_seconds: float | None
    reason: str = ""
    log: str = ""

    @property
    def is_preparing(self) -> bool:
        return self.state == PREPARING

    @property
    def is_ready(self) -> bool:
        return self.state == READY

    @property
    def is_failed(self) -> bool:
        return self.state == FAILED

    @property
    def summary(self) -> str:
        """What runs now and where it stands: "Building etcd v3.6.16 (1 of 7)"."""
        if self.of and self.step:
            return f"{self.doing} ({self.step} of {self.of})"
        return self.doing

    @property
    def elapsed(self) -> str:
        return in_words(self.elapsed_seconds)

    @property
    def last_duration(self) -> str:
        return in_words(self.last_duration_seconds)

    @property
    def expected_seconds(self) -> float | None:
        """This preparation's steps as long as they took last time; None if any is new."""
        if not self.steps or any(s.last_seconds is None for s in self.steps):
            return None
        return sum(s.last_seconds or 0 for s in self.steps)

    def _done_seconds(self) -> float:
        """How much of the expected time is behind us (each step counted at most as last time)."""
        done = 0.0
        for s in self.steps:
            last = s.last_seconds or 0
            if s.state == "done":
                done += last
            elif s.state == "running":
                done += min(s.seconds or 0, last * 0.95)
        return done

    @property
    def percent(self) -> int:
        """How far along: by last time's step durations where known, else by steps."""
        if self.is_ready:
            return 100
        expected = self.expected_seconds
        if expected:
            fraction = self._done_seconds() / expected
        elif self.of:
            done = sum(1 for s in self.steps if s.state == "done")
            running = any(s.state == "running" for s in self.steps)
            fraction = (done + (0.5 if running else 0)) / self.of
        else:
            fraction = 0.0
        return max(0, min(99, int(fraction * 100)))

    @property
    def left(self) -> str:
        """About how long is left, if every step has been timed before; else empty."""
        expected = self.expected_seconds
        if not expected or not self.is_preparing:
            return ""
        return in_words(max(0.0, expected - self._done_seconds()))


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return True  # nothing to check against
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _parse(data: dict, now: float) -> Preparation:
    steps = []
    for raw in data.get("steps") or []:
        seconds = raw.get("seconds")
        if raw.get("state") == "running" and raw.get("started_at"):
            seconds = now - raw["started_at"]
        steps.append(
            Step(
                key=str(raw.get("key", "")),
                label=str(raw.get("label", "")),
                state=str(raw.get("state", "pending")),
                seconds=seconds,
                last_seconds=raw.get("last_seconds"),
            )
        )
    state = data.get("state", PREPARING)
    reason = str(data.get("reason", ""))
    log = str(data.get("log", ""))
    if state == PREPARING and not _alive(data.get("pid")):
        # Killed without a word (its own failures are reported as such).
        state = FAILED
        reason = f"the preparation stopped without finishing (process {data.get('pid')} is gone)"
        steps = [dataclasses.replace(s, state="failed") if s.state == "running" else s for s in steps]
    started = data.get("started_at") or now
    finished = data.get("finished_at") or now
    return Preparation(
        state=state,
        doing=str(data.get("doing", "")),
        step=int(data.get("step") or 0),
        of=int(data.get("of") or 0),
        steps=tuple(steps),
        elapsed_seconds=max(0.0, finished - started),
        last_duration_seconds=data.get("last_duration_seconds"),
        reason=reason,
        log=log,
    )


def current() -> Preparation | None:
    """The cluster's preparation as last reported; None when there is none (no CLUSTER_STATUS_FILE)."""
    if not settings.CLUSTER_STATUS_FILE:
        return None
    path = Path(settings.CLUSTER_STATUS_FILE)
    now = time.time()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        # make run removes the last run's file just before the preparation writes its first.
        return Preparation(PREPARING, "Starting", 0, 0, (), 0.0, None)
    except (OSError, ValueError) as exc:
        return Preparation(FAILED, "", 0, 0, (), 0.0, None, reason=f"its status file cannot be read ({exc})")
    if not isinstance(data, dict):
        return Preparation(FAILED, "", 0, 0, (), 0.0, None, reason="its status file holds no status")
    return _parse(data, now)


def cluster_ready() -> bool:
    """May stores be claimed for provisioning? Yes, unless a preparation is reported and not ready."""
    preparation = current()
    return preparation is None or preparation.is_ready


def waiting_reason() -> str:
    """Why a queued store does not start yet, when that is the cluster; else empty."""
    preparation = current()
    if preparation is None or preparation.is_ready:
        return ""
    if preparation.is_failed:
        return "waiting for the cluster, which could not be prepared"
    return "waiting for the cluster to be ready"
