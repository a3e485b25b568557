"""What one round of store checks costs with 1,000 ready stores: queries, CPU, wall time.

Seeds a throwaway SQLite database with --stores ready stores and runs
stores.monitoring.run_round() as the "check stores" schedule does, with every
store due. The stores' storefronts are a stand-in: one HTTP server in another
process that answers for every store host (the platform reaches it as its
HTTP proxy, as it reaches the ingress stand-in of the test cluster), after
--latency-ms, with 503 for --down-percent of the stores. Prints one JSON line:
  checks, failed        storefront checks made, and those that failed
  wall_seconds          the round's wall time
  cpu_seconds           CPU time of the round's process (its threads included;
                        the stand-in runs elsewhere)
  queries               SQL queries of the round
  went_down             stores whose state changed (each: an event and a mail task)
  rounds_per_interval   rounds of the default cap (STORE_CHECKS_PER_ROUND) that
                        check every store once per STORE_CHECK_INTERVAL
Each figure is the median of --rounds rounds (the stores are made due again
between them). Storefront checks make no Kubernetes call, so no cluster is
needed. Run with `make bench-monitoring`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

# The stand-in: every store's storefront, answering after a delay; 503 for the
# hosts whose name ends in "-down".
STANDIN = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
latency = float(sys.argv[1]) / 1000
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        time.sleep(latency)
        down = self.headers["Host"].split(".")[0].endswith("-down")
        body = b"storefront"
        self.send_response(503 if down else 200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="monitoring.py", description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=int, default=1_000)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="each storefront's answer time")
    parser.add_argument("--down-percent", type=float, default=5.0, help="stores whose storefront answers 503")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="monitoring-bench-"))
    standin = subprocess.Popen([sys.executable, "-c", STANDIN, str(args.latency_ms)], stdout=subprocess.PIPE, text=True)
    try:
        assert standin.stdout is not None
        port = int(standin.stdout.readline())
        os.environ.update(
            {
                "DATABASE_URL": f"sqlite:///{workdir}/bench.sqlite3",
                "VAR_DIR": str(workdir),
                "DEBUG": "false",
                "SECRET_KEY": "monitoring-bench-" + "k" * 40,
                "KUBECONFIG": str(workdir / "no-cluster"),
                "LOG_LEVEL": "WARNING",
                "DJANGO_SETTINGS_MODULE": "provisioner.settings",
                "CHECK_STORE_URL": "true",
                # Every check of this benchmark is a storefront check.
                "CHECKOUT_CHECK_INTERVAL": "0",
                "http_proxy": f"http://127.0.0.1:{port}",
                "no_proxy": "",
            }
        )
        print(json.dumps(measure(args)))
    finally:
        standin.terminate()
        standin.wait()


def measure(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stores import monitoring
    from stores.models import Health, Status, Store

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench", "bench@example.org", "a-long-pass-phrase-9")
    down_every = math.inf if args.down_percent <= 0 else 100 / args.down_percent
    Store.objects.bulk_create(
        Store(
            owner=owner,
            slug=f"s{i}-down" if args.down_percent > 0 and i % down_every < 1 else f"s{i}",
            engine="woocommerce",
            status=Status.READY,
            health=Health.UP,
            health_failures=1,  # one failure already: a 503 now makes the store down
        )
        for i in range(args.stores)
    )
    # One round checks every store here; the default cap is reported below.
    default_cap = settings.STORE_CHECKS_PER_ROUND
    settings.STORE_CHECKS_PER_ROUND = args.stores

    figures: dict[str, list[float]] = {k: [] for k in ("checks", "failed", "wall_seconds", "cpu_seconds", "queries")}
    went_down = 0
    for i in range(args.rounds):
        Store.objects.update(health_checked_at=None, health=Health.UP, health_failures=1)
        wall, cpu = time.perf_counter(), time.process_time()
        with CaptureQueriesContext(connection) as captured:
            report = monitoring.run_round()
        figures["wall_seconds"].append(time.perf_counter() - wall)
        figures["cpu_seconds"].append(time.process_time() - cpu)
        figures["queries"].append(len(captured.captured_queries))
        figures["checks"].append(report.storefront)
        figures["failed"].append(report.failed)
        went_down = len(report.changes)
        print(f"round {i + 1}: {report.storefront} checks in {figures['wall_seconds'][-1]:.2f} s", file=sys.stderr)
    result: dict = {k: round(statistics.median(v), 3) for k, v in figures.items()}
    result.update(
        stores=args.stores,
        latency_ms=args.latency_ms,
        concurrency=settings.STORE_CHECK_CONCURRENCY,
        went_down=went_down,
        rounds_per_interval=math.ceil(args.stores / default_cap),
        interval_seconds=settings.STORE_CHECK_INTERVAL,
    )
    return result


if __name__ == "__main__":
    main()
