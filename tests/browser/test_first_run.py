"""`make run` with no cluster configured: no kubeconfig, no kind, an empty database.

The platform is started the way `make run` starts it (scripts/run.sh: the
cluster decision, migrations, static files, then honcho with the Procfile:
gunicorn and both task queues), with KUBECONFIG pointing at a missing file,
a fresh SQLite database and nothing on PATH that could make a kind cluster. So
it falls back to the local control plane and says so in the terminal and on
every page. A new user then signs up and creates a store, which reaches
*ready* with nothing else set up.

What it does not cover of a fresh machine: the local control plane is the
test run's own (LOCALCLUSTER_DIR, shared with the other tests), already built
and usually already running, and `localcluster/up.sh` reuses it; so neither
building it from the Go module proxy nor starting it cold is tried here: only
`make run` on a new machine shows those.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.make_run import fresh_shell_environment, serves_login
from tests.chromium import screenshot
from tests.platform import LOG_DIR, REPO_ROOT, free_port
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(480)]

STATE_DIR = Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster"))
BANNER = (
    "Simulated cluster: stores are provisioned for real against a local Kubernetes API, "
    "but their containers do not run."
)
# What a fresh machine has: the system's directories only (no kind, so no kind cluster).
SYSTEM_PATH = "/usr/bin:/bin"


@pytest.fixture
def first_run(tmp_path):
    """`make run`'s script on a fresh database with no kubeconfig; yields (url, terminal log, env)."""
    assert shutil.which("kind", path=SYSTEM_PATH) is None, "this test needs a machine without kind on /usr/bin"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = fresh_shell_environment()
    env.update(
        PATH=SYSTEM_PATH,
        KUBECONFIG=str(tmp_path / "no-kubeconfig" / "config"),
        VAR_DIR=str(tmp_path / "var"),
        LOCALCLUSTER_DIR=str(STATE_DIR),
        VENV_BIN=str(Path(sys.executable).parent),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    terminal = LOG_DIR / "first-run.log"
    with open(terminal, "wb") as out:
        proc = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # honcho and its processes in one group, stopped together
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: proc.poll() is not None or serves_login(url), timeout=240, what="make run's web server")
        assert proc.poll() is None, f"scripts/run.sh exited:\n{terminal.read_text()}"
        yield url, terminal, env
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass
        # Remove what the test provisioned from the shared cluster, in a process of its own
        # on the same database, now that the platform's workers are gone.
        cleanup_env = {
            **env,
            "KUBECONFIG": str(STATE_DIR / "kubeconfig"),
            "HELM_BIN": str(STATE_DIR / "bin" / "helm"),
            "DJANGO_SETTINGS_MODULE": "provisioner.settings",
        }
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); from tests.platform import delete_live_stores; delete_live_stores()",
            ],
            cwd=REPO_ROOT,
            env=cleanup_env,
            check=True,
            timeout=180,
        )


def test_it_creates_a_store_to_ready_with_no_cluster_configured(first_run, page):
    url, terminal, _ = first_run
    said = terminal.read_text()
    assert "no cluster answers in the current kubeconfig" in said
    assert "SIMULATED CLUSTER: stores are provisioned for real against a local" in said

    page.goto(f"{url}/accounts/register/")
    expect(page.locator(".cluster-banner")).to_have_text(BANNER)
    screenshot(page, "first-run-01-register")
    page.fill("#id_username", "fresh")
    page.fill("#id_email", "fresh@example.org")
    page.fill("#id_password1", "a-long-pass-phrase-9")
    page.fill("#id_password2", "a-long-pass-phrase-9")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your stores")
    expect(page.locator(".cluster-banner")).to_have_text(BANNER)
    screenshot(page, "first-run-02-dashboard")

    # Unique on the shared cluster (namespaces are store-<slug>).
    slug = f"first-run-{secrets.token_hex(3)}"
    page.fill("#id_name", slug)
    page.click("#create button[type=submit]")
    expect(page.locator("h1")).to_have_text(slug)
    expect(page.locator(".cluster-banner")).to_have_text(BANNER)
    expect(page.locator("#store-status .badge").first).to_have_text("Ready", timeout=240_000)
    expect(page.locator(".step-done")).to_have_count(5)
    # No store container serves on simulated nodes: the storefront and checkout checks are skipped, not failed.
    expect(page.locator(".step-skipped")).to_contain_text(["Storefront check", "Checkout check"])
    expect(page.locator("dd.checkout-state")).to_contain_text("Not verified")
    screenshot(page, "first-run-03-store-ready")

    # The owner's mail (printed by the control workers, no mail server here)
    # links to this store's page on the port the site listens on.
    link = f"{url}/stores/{page.url.rstrip('/').rsplit('/', 1)[-1]}/"
    wait_for(lambda: link in terminal.read_text(), timeout=60, what=f"the owner's mail linking to {link}")

    page.goto(f"{url}/")
    expect(page.locator("table.stores")).to_contain_text("Ready")
    expect(page.locator(".cluster-banner")).to_be_visible()
