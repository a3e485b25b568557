"""Run the platform's own processes (web server, both task queues) for tests.

Integration and browser tests drive the real thing: `manage.py qcluster`
workers and `manage.py runserver`, sharing the test database with the test
process (the SQLite file or the Postgres test database), talking to the local
control plane with real Helm.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from tests.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[1]
# Logs and screenshots of one test run. `make test` runs two passes side by
# side in one checkout (scripts/test.sh); each gets its own directory, since
# both start processes with the same log names and a test that reads a log
# must see only its own pass's lines.
ARTIFACTS_DIR = Path(os.environ.get("TEST_ARTIFACTS_DIR") or REPO_ROOT / "artifacts")
LOG_DIR = ARTIFACTS_DIR / "logs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(settings_dict: dict) -> str:
    """DATABASE_URL for a connection's settings: point a child process at the
    database the test process uses (after pytest-django has swapped in the
    test database's name)."""
    engine, name = settings_dict["ENGINE"], settings_dict["NAME"]
    if engine == "django.db.backends.sqlite3":
        return f"sqlite:///{name}"
    if engine == "django.db.backends.postgresql":
        user = quote(settings_dict.get("USER") or "", safe="")
        password = quote(settings_dict.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        # A socket directory as host is percent-encoded, as dj-database-url expects.
        host = quote(settings_dict.get("HOST") or "", safe="")
        port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
        return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}"
    raise ValueError(f"no DATABASE_URL for {engine}")


class Platform:
    def __init__(self, database: dict, **env: str):
        """`database`: the settings dict of the test process's connection, so the
        processes started here share its database, SQLite file or PostgreSQL."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(database),
            "DJANGO_SETTINGS_MODULE": "provisioner.settings",
            "CHECK_STORE_URL": "false",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.procs: dict[str, subprocess.Popen] = {}

    def _start(self, name: str, args: list[str], extra_env: dict | None = None) -> subprocess.Popen:
        log = open(LOG_DIR / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill it with its workers
        )
        self.procs[name] = proc
        return proc

    def start_workers(self) -> None:
        self._start("provision-workers", ["qcluster"])
        self._start("control-workers", ["qcluster"], {"Q_CLUSTER_NAME": "control"})

    def restart_provision_workers(self) -> None:
        self._start("provision-workers", ["qcluster"])

    def kill(self, name: str, sig=signal.SIGKILL) -> None:
        """Kill a process group outright, as a crash or OOM kill would."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(10)

    def start_web(self) -> str:
        port = free_port()
        self._start("web", ["runserver", f"127.0.0.1:{port}", "--noreload"])
        url = f"http://127.0.0.1:{port}"

        def answers():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return True
            except OSError:
                return False

        wait_for(answers, timeout=30, what="the web server")
        return url

    def stop(self) -> None:
        """Stop every process, all at once, then make sure nothing of theirs is left.

        SIGTERM goes to each main process only: an idle `qcluster` then stops
        its own workers and exits in under a second, where a SIGTERM to its
        whole group kills the workers under it and leaves it running (still
        there 40 s later, measured). Whatever a group still holds after 15 s
        is killed.
        """
        procs = list(self.procs.values())
        self.procs.clear()
        for proc in procs:
            proc.terminate()  # a no-op for a process already reaped
        deadline = time.monotonic() + 15
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # the whole group is gone
            proc.wait(5)


def delete_stores(store_ids) -> None:
    """Delete these stores in this process, all at once, as the control queue's task would.

    A delete is mostly waiting: `helm uninstall`, then about 5 s for the
    namespace controller to empty and remove the namespace. Each store's
    delete runs in a thread of its own (with its own database connection), so
    several stores take about as long as one. A delete that raises is
    re-raised once every delete has ended. The caller's settings must point
    at the test cluster (the `store_settings` fixture).
    """
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection, connections

    from stores import lifecycle, tasks

    def delete(store_id: int) -> None:
        try:
            lifecycle.request_delete(store_id)
        except lifecycle.TransitionRefused:
            pass  # already deleting: run its delete here all the same
        tasks.delete(store_id)

    def delete_in_thread(store_id: int) -> None:
        try:
            delete(store_id)
        finally:
            connections.close_all()  # this thread's own

    store_ids = list(store_ids)
    if len(store_ids) < 2 or connection.in_atomic_block:
        # One store; or inside a test's transaction, whose rows another
        # connection would not see: stay on this connection.
        for store_id in store_ids:
            delete(store_id)
        return
    with ThreadPoolExecutor(max_workers=len(store_ids), thread_name_prefix="delete-store") as pool:
        futures = [pool.submit(delete_in_thread, store_id) for store_id in store_ids]
    for future in futures:
        future.result()


def delete_live_stores() -> None:
    """Delete, in this process, every store a test left live, so namespaces never pile up.

    All at once (`delete_stores`). The caller's settings must point at the
    test cluster (the `store_settings` fixture).
    """
    from django.db import close_old_connections

    from stores.models import Store

    close_old_connections()
    delete_stores(Store.objects.live().values_list("pk", flat=True))
