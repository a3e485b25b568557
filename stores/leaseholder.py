"""Who holds a store's lease: the host and the process, so a holder that is
provably gone can be taken over without waiting for the lease to run out.

A holder is its host (the host name, the kernel's boot id and the PID
namespace: a process id means something only there), its process id and the
process's start time (clock ticks after boot, /proc/<pid>/stat), which tells
a reused process id from the holder. A holder is gone only when it is on this
host and its process id no longer exists, exists with another start time, or
is a zombie (it has exited). Anything that cannot be read proves nothing: a
holder on another host, or where /proc is not there, is waited for until its
lease runs out.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    started: int | None

    def fields(self) -> dict[str, Any]:
        """The Store fields that record this holder."""
        return {"lease_host": self.host, "lease_pid": self.pid, "lease_pid_started": self.started}


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


@cache
def this_host() -> str:
    """The host name, the boot and the PID namespace this process runs in (at most 255 characters)."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        pid_namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        pid_namespace = ""
    return f"{socket.gethostname()[:180]} boot={boot or '?'} {pid_namespace or 'pid:?'}"


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks after boot) of a process, None if it cannot be read."""
    text = _read(f"/proc/{pid}/stat")
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    _, _, rest = text.rpartition(")")
    fields = rest.split()
    if len(fields) < 20:
        return None
    try:
        return fields[0], int(fields[19])
    except ValueError:
        return None


def start_time(pid: int) -> int | None:
    stat = _stat(pid)
    return stat[1] if stat else None


def this_process() -> Holder:
    pid = os.getpid()
    return Holder(this_host(), pid, start_time(pid))


def is_gone(host: str, pid: int | None, started: int | None) -> bool:
    """True only when the holder provably no longer runs: on this host, and its
    process is not there, is another process (another start time) or has exited."""
    if not host or not pid or pid <= 0 or host != this_host():
        return False
    try:
        os.kill(pid, 0)  # signal 0: is there such a process? (sends nothing)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # there is one, of another user
    stat = _stat(pid)
    if stat is None:
        return False  # not readable here: nothing proved
    state, now_started = stat
    if state in ("Z", "X"):
        return True  # it has exited; its parent has not reaped it yet
    return started is not None and now_started != started
