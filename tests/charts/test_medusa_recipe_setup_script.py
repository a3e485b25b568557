"""setup.sh's own logic (charts/medusa/files/setup.sh), quickly, with stand-ins.

The real recipe runs in test_medusa_recipe.py (minutes). Here `npm` and the
project's `medusa` are small shell stand-ins that log their calls and fail on
demand, so the failure reasons the platform shows (install failed, migration
failed, out of memory...) and the skipping of a second run are checked in
seconds, under Debian's /bin/sh (dash), which the node image also uses.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.charts.medusa_recipe_support import FILES

SHELL = shutil.which("dash") or "/bin/sh"

# Installs a stand-in medusa into node_modules/.bin, as `npm ci` would.
NPM = """#!/bin/sh
echo "npm $*" >>"$CALLS"
if [ "${FAIL_NPM:-}" ]; then echo "npm error something broke"; exit "$FAIL_NPM"; fi
mkdir -p node_modules/.bin
cp "$MEDUSA_STANDIN" node_modules/.bin/medusa
"""

MEDUSA = """#!/bin/sh
echo "medusa $*" >>"$CALLS"
if [ "${FAIL_STEP:-}" = "$1" ]; then
    [ "${FAIL_TEXT:-}" ] && echo "$FAIL_TEXT"
    exit "${FAIL_CODE:-1}"
fi
case "$1" in
user)
    if [ -f "$APP_DIR/.admin" ]; then echo "error: User with email: $3 already exists"; exit 1; fi
    touch "$APP_DIR/.admin" ;;
exec)
    mkdir -p "$APP_DIR/state" && printf pk_test >"$APP_DIR/state/publishable-key"
    # What the seed was given for the store's region.
    printf '%s %s' "${SHOP_COUNTRY-unset}" "${SHOP_CURRENCY-unset}" >"$APP_DIR/state/seed-shop" ;;
build)
    mkdir -p .medusa/server/public/admin && echo "module.exports = {}" >.medusa/server/medusa-config.js ;;
esac
"""


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def recipe(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "npm", NPM)
    medusa = _executable(tmp_path / "medusa-standin", MEDUSA)
    calls = tmp_path / "calls"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "APP_DIR": str(tmp_path / "app"),
        "NPM_CACHE_DIR": str(tmp_path / "npm-cache"),
        "MEDUSA_ADMIN_EMAIL": "owner@example.org",
        "MEDUSA_ADMIN_PASSWORD": "pass; $(touch pwned)",
        "STORE_URL": "http://store-acme.127.0.0.1.nip.io",
        "CALLS": str(calls),
        "MEDUSA_STANDIN": str(medusa),
    }

    def run(*args, **extra):
        calls.write_text("")
        proc = subprocess.run(
            [SHELL, str(FILES / "setup.sh"), *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        return proc, calls.read_text().splitlines()

    run.app = tmp_path / "app"
    return run


def last_line(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


def test_it_runs_every_step_then_skips_install_and_build(recipe):
    proc, calls = recipe()
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[0:2] for c in calls] == [
        ["npm", "ci"],
        ["medusa", "build"],
        ["medusa", "db:migrate"],
        ["medusa", "user"],
        ["medusa", "exec"],
    ]
    assert (recipe.app / "state" / "setup-done").exists()
    assert (recipe.app / "state" / "publishable-key").read_text() == "pk_test"
    assert os.readlink(recipe.app / ".medusa" / "server" / "node_modules") == "../../node_modules"
    assert "NODE_ENV=production" in (recipe.app / ".medusa" / "server" / ".env").read_text()
    assert not Path(recipe.app.parent / "pwned").exists()

    proc, calls = recipe()
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[0:2] for c in calls] == [["medusa", "db:migrate"], ["medusa", "user"], ["medusa", "exec"]]
    assert "the admin user exists" in proc.stdout


def test_it_installs_and_builds_again_when_the_project_changes(recipe, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(FILES / "project", project)
    assert recipe(PROJECT_DIR=str(project))[0].returncode == 0

    (project / "medusa-config.ts").write_text((project / "medusa-config.ts").read_text() + "\n// changed\n")
    proc, calls = recipe(PROJECT_DIR=str(project))

    assert proc.returncode == 0, proc.stderr
    assert "medusa build" in calls
    assert "changed" in (recipe.app / "medusa-config.ts").read_text()


@pytest.mark.parametrize(
    "extra, reason",
    [
        ({"FAIL_NPM": "1"}, "setup failed: install: install failed"),
        ({"FAIL_NPM": "137"}, "setup failed: install: out of memory (exit 137)"),
        ({"FAIL_STEP": "db:migrate"}, "setup failed: migrate: migration failed"),
        ({"FAIL_STEP": "user", "FAIL_TEXT": "connection refused"}, "setup failed: admin: admin user failed"),
        ({"FAIL_STEP": "exec"}, "setup failed: seed: seed failed"),
        ({"FAIL_STEP": "build", "FAIL_CODE": "137"}, "setup failed: build: out of memory (exit 137)"),
        (
            {
                "FAIL_STEP": "build",
                "FAIL_CODE": "134",
                "FAIL_TEXT": "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            },
            "setup failed: build: out of memory (JavaScript heap)",
        ),
    ],
)
def test_it_says_why_it_failed_in_its_last_line(recipe, extra, reason):
    proc, _ = recipe(**extra)

    assert proc.returncode != 0
    assert last_line(proc) == reason
    assert not (recipe.app / "state" / "setup-done").exists()


def test_it_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is missing: `make system-packages` installs Debian's package")
    for script in ("setup.sh", "start-server.sh"):
        proc = subprocess.run(["shellcheck", "-s", "sh", str(FILES / script)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_it_installs_and_builds_without_a_database_for_a_prebuilt_image(recipe):
    proc, calls = recipe("--build-only", DATABASE_URL="")

    assert proc.returncode == 0, proc.stderr
    assert [c.split()[0:2] for c in calls] == [["npm", "ci"], ["medusa", "build"]]
    assert not (recipe.app / "state" / "setup-done").exists()
    # The store's own run, on the image: only the database steps.
    proc, calls = recipe()
    assert proc.returncode == 0, proc.stderr
    assert [c.split()[0:2] for c in calls] == [["medusa", "db:migrate"], ["medusa", "user"], ["medusa", "exec"]]
    assert (recipe.app / "state" / "setup-done").exists()


def test_the_seed_gets_the_shops_country_and_currency(recipe):
    proc, _ = recipe(SHOP_COUNTRY="DE", SHOP_CURRENCY="EUR")

    assert proc.returncode == 0, proc.stderr
    assert (recipe.app / "state" / "seed-shop").read_text() == "DE EUR"
    assert "seeding (a shop in DE selling in EUR)" in proc.stdout


def test_without_them_the_seed_sets_a_shop_up_in_the_united_states(recipe):
    proc, _ = recipe()

    assert proc.returncode == 0, proc.stderr
    assert (recipe.app / "state" / "seed-shop").read_text() == "US USD"


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("SHOP_COUNTRY", "de", "SHOP_COUNTRY must be an ISO 3166-1 alpha-2 code such as DE, not 'de'"),
        ("SHOP_CURRENCY", "EURO", "SHOP_CURRENCY must be an ISO 4217 code such as EUR, not 'EURO'"),
    ],
)
def test_it_refuses_a_country_or_currency_that_is_no_code_before_seeding(recipe, variable, value, reason):
    proc, calls = recipe(**{variable: value})

    assert proc.returncode != 0
    assert last_line(proc) == f"setup failed: seed: {reason}"
    assert not any(call.startswith("medusa exec") for call in calls)
