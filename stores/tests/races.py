"""Two threads, each on its own database connection, meeting at one of the
lifecycle's race points (`lifecycle.RACE_POINTS`).

The point sits inside a locked section, after a count and before the decision
the count feeds. Each thread waits there for the other, for `HOLD` seconds at
most:

- with the lock, the second thread is blocked before it reaches the point, so
  the first gives up waiting after `HOLD`, finishes and commits; the second
  then counts what the first did (the barrier is broken by then: it does not
  wait again);
- without it, both threads count before either acts on the count, so both act
  on the same stale figure, on every run, not only when the scheduler happens
  to interleave them.

A PostgreSQL affair: SQLite serialises the whole write transaction, and these
tests are marked `postgres`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection

from stores import lifecycle

# Long enough for the second thread, started at the same moment, to reach the
# point on a loaded machine when nothing holds it back; with the lock every
# run waits this long once.
HOLD = 2.0


def run_two_at_the_point(point: str, work: Callable[[int], Any], monkeypatch, *, one_at_a_time: bool = False) -> list:
    """Run `work(0)` and `work(1)` in two threads that meet at the race point `point`.

    Returns what each returned, or the exception it raised, by index.

    `one_at_a_time`: once both have passed the point together, the one the
    barrier picks waits until the other's `work` has returned (committed)
    before it goes on. That is how a lost lock shows when the two would
    otherwise queue on the same row further on: the second reads what the
    first committed, but acts on the count it took before.
    """
    meet = threading.Barrier(2)
    start = threading.Barrier(2)
    someone_finished = threading.Event()
    results: list[Any] = [None, None]

    def hold() -> None:
        try:
            index = meet.wait(timeout=HOLD)
        except threading.BrokenBarrierError:
            return  # the other thread is held by the lock (or was, and is done)
        if one_at_a_time and index == 0:
            someone_finished.wait(timeout=HOLD * 5)

    monkeypatch.setitem(lifecycle.RACE_POINTS, point, hold)

    def run(i: int) -> None:
        try:
            start.wait(timeout=HOLD * 5)
            results[i] = work(i)
        except Exception as exc:
            results[i] = exc
        finally:
            someone_finished.set()
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HOLD * 10)
        assert not t.is_alive(), "a racing thread never finished"
    return results
