"""`migrate` alone makes the throttles' cache table (accounts/migrations/0002).

Sign-up and sign-in count attempts in the "ratelimit" cache, a database table
when there is no Redis; a fresh database that only ran `migrate` answered them
with a 500 ("no such table: rate_limit_cache").
"""

import json
import os
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[2]
create_cache_tables = import_module("accounts.migrations.0002_rate_limit_cache_table").create_cache_tables

SIGN_UP_AND_IN = """
import json
from django.test import Client
from django.test.utils import setup_test_environment
from django.urls import reverse
setup_test_environment()
password = "a-long-Passphrase-42"
signup = Client(raise_request_exception=False).post(reverse("register"), {
    "username": "carol", "email": "carol@example.org", "password1": password, "password2": password})
login = Client(raise_request_exception=False).post(reverse("login"), {"username": "carol", "password": password})
print(json.dumps([signup.status_code, signup.get("Location"), login.status_code, login.get("Location")]))
"""


def _manage(var_dir: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "VAR_DIR"}}
    proc = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**env, "VAR_DIR": str(var_dir), "DEBUG": "true", "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_it_signs_up_and_in_on_a_fresh_database_after_migrate_alone(tmp_path):
    _manage(tmp_path, "migrate", "--noinput")

    out = _manage(tmp_path, "shell", "-c", SIGN_UP_AND_IN)

    signup_status, signup_to, login_status, login_to = json.loads(out.strip().splitlines()[-1])
    assert (signup_status, signup_to) == (302, "/")
    assert (login_status, login_to) == (302, "/")


# All the migration reads of its schema editor is which database it migrates.
MIGRATION_EDITOR = SimpleNamespace(connection=connection)


def _tables() -> set[str]:
    return set(connection.introspection.table_names())


@pytest.mark.django_db
def test_it_makes_the_table_of_each_database_cache_and_leaves_one_that_exists(settings):
    settings.CACHES = {
        **settings.CACHES,
        "other": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "other_cache_table"},
    }
    assert "rate_limit_cache" in _tables()
    assert "other_cache_table" not in _tables()

    create_cache_tables(None, MIGRATION_EDITOR)
    create_cache_tables(None, MIGRATION_EDITOR)  # again: nothing to do

    assert {"rate_limit_cache", "other_cache_table"} <= _tables()


@pytest.mark.django_db
def test_it_makes_no_table_when_the_throttles_use_redis(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "ratelimit": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1"},
    }
    before = _tables()

    create_cache_tables(None, MIGRATION_EDITOR)

    assert _tables() == before
