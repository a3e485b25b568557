#!/usr/bin/env python3
"""The local control plane's preparation, step by step, in a small JSON file.

`make run` serves the dashboard at once and prepares the local control plane
beside it (scripts/prepare-cluster.sh); build.sh and up.sh report each step
here and the platform shows it on every page (stores/preparation.py reads the
file). How long each step took is kept in the binary cache, so the next
preparation says how long it took last time.

    status.py FILE begin --pid PID --log LOG [--doing TEXT]
    status.py FILE plan KEY=LABEL...     the steps to come, in order
    status.py FILE step KEY              KEY starts (the step before it is done)
    status.py FILE ready
    status.py FILE failed REASON

The file (written whole, then renamed over the old one):
    state          preparing | ready | failed
    doing          what runs now, in words; step, of: its place (1 of 7)
    steps          [{key, label, state: pending|running|done|failed,
                     started_at, seconds, last_seconds}]
    started_at, updated_at, finished_at   seconds since the epoch
    last_duration_seconds   the last preparation that built something, in all
    reason, log, pid        why it failed; its log; the preparing process

Standard library only: it runs before the platform's virtualenv may exist.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

READY, PREPARING, FAILED = "ready", "preparing", "failed"
# Steps that build something: a preparation without them (binaries cached,
# only starting) is not what "last time" should describe.
START_STEP = "start"


def cache_file() -> Path:
    cache = os.environ.get("STORE_PROVISIONER_CACHE") or str(Path.home() / ".cache" / "store-provisioner")
    return Path(cache) / "build-times.json"


def load_times() -> dict:
    try:
        times = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {"steps": {}, "last_duration_seconds": None}
    return times if isinstance(times, dict) else {"steps": {}, "last_duration_seconds": None}


def save_times(times: dict) -> None:
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, times)


def write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(tmp, path)


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def _finish_running(status: dict, now: float, state: str = "done") -> None:
    for step in status["steps"]:
        if step["state"] == "running":
            step["state"] = state
            step["seconds"] = round(now - step["started_at"], 1)


def begin(path: Path, pid: int, log: str, doing: str) -> dict:
    now = time.time()
    return {
        "state": PREPARING,
        "what": "the local control plane",
        "doing": doing,
        "step": 0,
        "of": 0,
        "steps": [],
        "started_at": now,
        "updated_at": now,
        "finished_at": None,
        "last_duration_seconds": load_times().get("last_duration_seconds"),
        "reason": "",
        "log": log,
        "pid": pid,
    }


def plan(status: dict, items: list[str]) -> dict:
    last = load_times().get("steps", {})
    steps = []
    for item in items:
        key, _, label = item.partition("=")
        steps.append(
            {
                "key": key,
                "label": label or key,
                "state": "pending",
                "started_at": None,
                "seconds": None,
                "last_seconds": last.get(key),
            }
        )
    status["steps"] = steps
    status["of"] = len(steps)
    return status


def step(status: dict, key: str) -> dict:
    now = time.time()
    _finish_running(status, now)
    steps = status["steps"]
    found = next((s for s in steps if s["key"] == key), None)
    if found is None:  # not in the plan: reported all the same
        found = {"key": key, "label": key, "state": "pending", "started_at": None, "seconds": None}
        found["last_seconds"] = load_times().get("steps", {}).get(key)
        steps.append(found)
        status["of"] = len(steps)
    found["state"] = "running"
    found["started_at"] = now
    status["step"] = steps.index(found) + 1
    status["doing"] = found["label"]
    return status


def ready(status: dict) -> dict:
    now = time.time()
    _finish_running(status, now)
    status.update(state=READY, doing="Ready", finished_at=now)
    done = {s["key"]: s["seconds"] for s in status["steps"] if s["seconds"] is not None}
    if done:
        times = load_times()
        times.setdefault("steps", {}).update(done)
        if set(done) - {START_STEP}:
            times["last_duration_seconds"] = round(now - status["started_at"], 1)
        save_times(times)
    return status


def failed(status: dict, reason: str) -> dict:
    now = time.time()
    _finish_running(status, now, state="failed")
    status.update(state=FAILED, reason=reason, finished_at=now)
    return status


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    path, command, args = Path(argv[0]), argv[1], argv[2:]
    if command == "begin":
        options = dict(zip(args[::2], args[1::2], strict=False))
        status = begin(path, int(options["--pid"]), options["--log"], options.get("--doing", "Starting"))
    else:
        status = read(path)
        if command == "plan":
            status = plan(status, args)
        elif command == "step":
            status = step(status, args[0])
        elif command == "ready":
            status = ready(status)
        elif command == "failed":
            status = failed(status, " ".join(args))
        else:
            print(f"status.py: unknown command {command!r}", file=sys.stderr)
            return 2
    status["updated_at"] = time.time()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
