"""A first `make run` on a machine where the local control plane must be built first.

The real build takes minutes of Go compiling; here a stand-in `go` (tests/standin/go) acts
it out, step by step as the test lets it, into an empty binary cache, handing out the
binaries this machine already built. Everything else is `make run`'s own: scripts/run.sh
serves the platform at once, scripts/prepare-cluster.sh builds and starts a control plane of
its own beside it (a state directory of this test's, removed at the end), and the pages show
how far it is. A store created meanwhile waits in line with the reason, and goes to ready
once the cluster answers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.axe import blocking, violations
from tests.browser.make_run import fresh_shell_environment, serves_login
from tests.chromium import screenshot
from tests.platform import LOG_DIR, REPO_ROOT, free_port, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

CACHE = Path(os.environ.get("STORE_PROVISIONER_CACHE") or Path.home() / ".cache" / "store-provisioner")


@pytest.fixture
def building(tmp_path, local_cluster):
    """`make run` with no cluster and nothing built; yields (url, gate file, terminal log).

    The stand-in build lets through as many downloads and builds as the gate file says.
    """
    go_dir = tmp_path / "go"
    go_dir.mkdir()
    (go_dir / "go").symlink_to(REPO_ROOT / "tests" / "standin" / "go")
    gate = tmp_path / "gate"
    gate.write_text("4\n")  # etcd (download, build), kwok, kwokctl; then it waits at helm
    state = tmp_path / "localcluster"
    port = free_port()
    env = fresh_shell_environment()
    env.update(
        PATH=f"{go_dir}:/usr/bin:/bin",
        KUBECONFIG=str(tmp_path / "no-kubeconfig" / "config"),
        VAR_DIR=str(tmp_path / "var"),
        LOCALCLUSTER_DIR=str(state),
        STORE_PROVISIONER_CACHE=str(tmp_path / "cache"),
        STANDIN_GO_BINARIES=str(CACHE / "bin"),
        STANDIN_GO_GATE=str(gate),
        STANDIN_GO_SECONDS="0.5",
        VENV_BIN=str(Path(sys.executable).parent),
        PORT=str(port),
        PYTHONUNBUFFERED="1",
    )
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    terminal = LOG_DIR / "cluster-preparation.log"
    url = f"http://127.0.0.1:{port}"
    with open(terminal, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            ["bash", "scripts/run.sh"],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(lambda: proc.poll() is not None or serves_login(url), timeout=120, what="make run's web server")
        assert proc.poll() is None, f"scripts/run.sh exited:\n{terminal.read_text()}"
        # A figure, not a check: how long the first page took while the build waits.
        print(f"first page after {time.monotonic() - started:.1f} s, the cluster still being built")
        yield url, gate, terminal
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        except ProcessLookupError:
            pass
        # The control plane this test built goes, with every store in it.
        subprocess.run(["bash", "localcluster/down.sh"], cwd=REPO_ROOT, env=env, timeout=120, check=False)


def test_it_serves_at_once_and_starts_the_waiting_store_once_the_cluster_is_built(building, page):
    url, gate, terminal = building
    banner = page.locator("#cluster-preparation")

    page.goto(f"{url}/accounts/register/")
    expect(banner).to_contain_text("Preparing the local cluster")
    screenshot(page, "cluster-preparation-01-register")
    page.fill("#id_username", "early")
    page.fill("#id_email", "early@example.org")
    page.fill("#id_password1", "a-long-pass-phrase-9")
    page.fill("#id_password2", "a-long-pass-phrase-9")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Your stores")
    expect(banner).to_contain_text("Building helm v3.22.0 (4 of 7)")
    expect(banner).to_contain_text("the first time takes several minutes")
    screenshot(page, "cluster-preparation-02-dashboard")

    page.fill("#id_name", "early-shop")
    page.click("#create button[type=submit]")
    expect(page.locator("h1")).to_have_text("early-shop")
    expect(page.locator("#store-status .badge").first).to_have_text("Queued")
    expect(page.locator("#store-status .queued-reason")).to_contain_text(
        "Number 1 in line, waiting for the cluster to be ready."
    )
    page.click("#cluster-preparation summary")
    steps = page.locator("#cluster-preparation .step")
    expect(steps).to_have_count(7)
    expect(page.locator("#cluster-preparation .step-done")).to_have_count(3)
    expect(page.locator("#cluster-preparation .step-running")).to_contain_text("Building helm v3.22.0")
    page.wait_for_timeout(2500)  # a poll has swapped the banner: the list stays open
    expect(steps.first).to_be_visible()
    screenshot(page, "cluster-preparation-03-store-waiting")
    found = violations(page)  # the banner and its open step list, with the page under it
    print("axe:", json.dumps(found, indent=1))
    assert blocking(found) == []

    gate.write_text("99\n")  # the rest of the build
    expect(banner).to_contain_text("The local cluster is ready", timeout=180_000)
    expect(page.locator("#store-status .badge").first).to_have_text("Ready", timeout=120_000)
    screenshot(page, "cluster-preparation-04-store-ready")
    said = terminal.read_text()
    assert "the local control plane is ready" in said
    # prepare-cluster.sh's reconcile ran once the cluster answered. It starts the waiting store
    # ("started: early-shop"), unless the workers' reconcile schedule claimed it a moment before
    # (a clean-clone run saw that once); either way the store is ready above.
    assert "no orphaned namespaces or releases" in said

    page.goto(f"{url}/")
    expect(page.locator("table.stores")).to_contain_text("Ready")
    expect(banner).to_have_count(0)  # once ready, pages carry no banner
