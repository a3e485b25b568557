"""tests.platform: the processes it starts use the test process's own database."""

from __future__ import annotations

import subprocess
import sys

import dj_database_url
import pytest
from django.db import connection

from tests.platform import REPO_ROOT, Platform, database_url


def test_it_gives_a_sqlite_file_as_a_url():
    settings = {"ENGINE": "django.db.backends.sqlite3", "NAME": "/tmp/x/test-db.sqlite3"}

    assert database_url(settings) == "sqlite:////tmp/x/test-db.sqlite3"


def test_it_gives_a_postgres_database_as_a_url_that_parses_back():
    settings = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "test_provisioner",
        "USER": "app",
        "PASSWORD": "p@ss:word/",
        "HOST": "127.0.0.1",
        "PORT": 54321,
    }

    parsed = dj_database_url.parse(database_url(settings))

    assert {k: parsed[k] for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")} == settings


def test_it_keeps_a_socket_directory_as_host():
    settings = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "test_p",
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "/var/run/postgresql",
        "PORT": "",
    }

    parsed = dj_database_url.parse(database_url(settings))

    assert (parsed["HOST"], parsed["NAME"], parsed["USER"]) == ("/var/run/postgresql", "test_p", "postgres")


@pytest.mark.django_db(transaction=True)
def test_it_starts_processes_on_the_test_database(django_user_model):
    django_user_model.objects.create_user("seen-by-the-child")
    platform = Platform(connection.settings_dict)
    script = (
        "import django; django.setup();"
        "from django.contrib.auth.models import User; from django.db import connection;"
        "print(connection.vendor, User.objects.filter(username='seen-by-the-child').count())"
    )

    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    assert out.split() == [connection.vendor, "1"]
