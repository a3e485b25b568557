"""Settings read from the environment: the readers, production checks and databases."""

import secrets

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from provisioner.env import envbool, envint, envlist, envsecret, envstr
from provisioner.tests.settings_probe import production, run, settings_json

VAR = "SP_TEST_SETTING"


# --- the readers ----------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "yes", "on", " On "])
def test_it_reads_true(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert envbool(VAR, False) is True


@pytest.mark.parametrize("raw", ["0", "false", "False", "no", "off", ""])
def test_it_reads_false(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    assert envbool(VAR, True) is False


def test_it_uses_the_default_bool_when_unset(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    assert envbool(VAR, True) is True
    assert envbool(VAR, False) is False


@pytest.mark.parametrize("raw", ["maybe", "2", "tru", "y e s"])
def test_it_rejects_a_bad_bool(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured) as excinfo:
        envbool(VAR, False)
    assert str(excinfo.value) == f"{VAR} must be true or false, not {raw!r}"


@pytest.mark.parametrize("raw,value", [("5", 5), (" 42 ", 42), ("0", 0), ("-3", -3)])
def test_it_reads_an_int(monkeypatch, raw, value):
    monkeypatch.setenv(VAR, raw)
    assert envint(VAR, 7) == value


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_it_uses_the_default_int_when_unset_or_empty(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv(VAR, raising=False)
    else:
        monkeypatch.setenv(VAR, raw)
    assert envint(VAR, 7) == 7


@pytest.mark.parametrize("raw", ["abc", "1.5", "3 stores", "0x10"])
def test_it_rejects_a_bad_int(monkeypatch, raw):
    monkeypatch.setenv(VAR, raw)
    with pytest.raises(ImproperlyConfigured) as excinfo:
        envint(VAR, 7)
    assert str(excinfo.value) == f"{VAR} must be a whole number, not {raw!r}"


def test_it_rejects_an_int_below_the_minimum(monkeypatch):
    monkeypatch.setenv(VAR, "0")
    with pytest.raises(ImproperlyConfigured) as excinfo:
        envint(VAR, 7, minimum=1)
    assert str(excinfo.value) == f"{VAR} must be at least 1, not 0"


def test_it_accepts_an_int_at_the_minimum(monkeypatch):
    monkeypatch.setenv(VAR, "1")
    assert envint(VAR, 7, minimum=1) == 1


def test_it_reads_a_list(monkeypatch):
    monkeypatch.setenv(VAR, " a.example.com, b.example.com,,c.example.com ,")
    assert envlist(VAR, ["default"]) == ["a.example.com", "b.example.com", "c.example.com"]


def test_it_reads_an_empty_list(monkeypatch):
    monkeypatch.setenv(VAR, "")
    assert envlist(VAR, ["default"]) == []


def test_it_uses_a_copy_of_the_default_list(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    default = ["localhost"]
    value = envlist(VAR, default)
    value.append("changed")
    assert default == ["localhost"]
    assert envlist(VAR, default) == ["localhost"]


def test_it_reads_a_string(monkeypatch):
    monkeypatch.delenv(f"{VAR}_FILE", raising=False)
    monkeypatch.setenv(VAR, "value")
    assert envstr(VAR, "default") == "value"


def test_it_uses_the_default_string_when_unset(monkeypatch):
    monkeypatch.delenv(VAR, raising=False)
    monkeypatch.delenv(f"{VAR}_FILE", raising=False)
    assert envstr(VAR, "default") == "default"
    assert envstr(VAR) == ""


# --- the settings module, in a fresh process ---------------------------------------


def test_it_passes_the_deploy_checks_in_production(tmp_path):
    result = run(["manage.py", "check", "--deploy"], **production(tmp_path))

    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output
    assert "System check identified no issues" in output


def test_it_reads_the_secret_key_from_a_file(tmp_path):
    key_file = tmp_path / "secret_key_file"
    key = secrets.token_urlsafe(50)
    key_file.write_text(key + "\n")
    env = production(tmp_path, SECRET_KEY_FILE=str(key_file))
    del env["SECRET_KEY"]

    result = run(["manage.py", "check", "--deploy"], **env)
    read = settings_json("settings.SECRET_KEY", **env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNINGS" not in result.stdout + result.stderr
    assert read == key


def test_it_refuses_to_start_without_a_secret_key_in_production(tmp_path):
    env = production(tmp_path)
    del env["SECRET_KEY"]

    result = run(["manage.py", "check"], **env)

    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is false" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_it_keeps_a_generated_secret_key_in_development(tmp_path):
    first = settings_json("settings.SECRET_KEY", VAR_DIR=str(tmp_path))
    second = settings_json("settings.SECRET_KEY", VAR_DIR=str(tmp_path))

    assert len(first) >= 50
    assert first == second
    assert (tmp_path / "secret_key").read_text().strip() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_names_a_malformed_variable(tmp_path):
    result = run(["manage.py", "check"], **production(tmp_path, MAX_STORES_PER_USER="three"))

    assert result.returncode != 0
    assert "MAX_STORES_PER_USER must be a whole number, not 'three'" in result.stderr


def test_it_reads_the_shops_default_country_and_currency(tmp_path):
    assert settings_json("[settings.STORE_DEFAULT_COUNTRY, settings.STORE_DEFAULT_CURRENCY]") == ["US", "USD"]
    values = settings_json(
        "[settings.STORE_DEFAULT_COUNTRY, settings.STORE_DEFAULT_CURRENCY]",
        STORE_DEFAULT_COUNTRY="de",
        STORE_DEFAULT_CURRENCY="EUR",
    )
    assert values == ["DE", "EUR"]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("STORE_DEFAULT_COUNTRY", "XX", "STORE_DEFAULT_COUNTRY: 'XX' is not one of the countries"),
        # WooCommerce sells in Bitcoin, Medusa does not: a default must suit every engine.
        ("STORE_DEFAULT_CURRENCY", "BTC", "STORE_DEFAULT_CURRENCY: 'BTC' is not a currency every engine sells in"),
    ],
)
def test_it_refuses_a_default_country_or_currency_no_shop_can_have(tmp_path, variable, value, message):
    result = run(["manage.py", "check"], **production(tmp_path, **{variable: value}))

    assert result.returncode != 0
    assert message in result.stderr


def test_it_hardens_production(tmp_path):
    values = settings_json(
        "[settings.DEBUG, settings.SECURE_SSL_REDIRECT, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE,"
        " settings.SECURE_HSTS_SECONDS, settings.ALLOWED_HOSTS, settings.CSRF_TRUSTED_ORIGINS]",
        **production(tmp_path),
    )

    assert values == [
        False,
        True,
        True,
        True,
        31536000,
        ["provisioner.example.com"],
        ["https://provisioner.example.com"],
    ]


def test_it_is_in_production_unless_debug_is_turned_on(tmp_path):
    """A `docker run` of the image with only ALLOWED_HOSTS and a key: no technical
    pages, no open sign-up, secure cookies."""
    values = settings_json(
        "[settings.DEBUG, settings.REGISTRATION_OPEN, settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE]",
        DEBUG=None,
        SECRET_KEY="k" * 50,
        ALLOWED_HOSTS="provisioner.example.com",
        VAR_DIR=str(tmp_path),
    )

    assert values == [False, False, True, True]


def test_it_refuses_to_start_with_debug_unset_and_no_secret_key(tmp_path):
    result = run(["manage.py", "check"], DEBUG=None, ALLOWED_HOSTS="provisioner.example.com", VAR_DIR=str(tmp_path))

    assert result.returncode != 0
    assert "SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is false (the default;" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_it_refuses_two_ways_of_store_tls_at_once(tmp_path):
    result = run(["manage.py", "check"], **production(tmp_path, TLS_WILDCARD="true", TLS_CLUSTER_ISSUER="letsencrypt"))

    assert result.returncode != 0
    assert "TLS_WILDCARD and TLS_CLUSTER_ISSUER are two ways to give stores TLS: set one" in result.stderr


def test_it_parses_a_postgres_database_url(tmp_path):
    database = settings_json(
        "settings.DATABASES['default']",
        VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://u:p@db:5432/x",
    )

    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"], database["HOST"], database["PORT"]) == (
        "x",
        "u",
        "p",
        "db",
        5432,
    )
    assert "transaction_mode" not in database.get("OPTIONS", {})


def test_it_defaults_to_sqlite_in_the_var_dir(tmp_path):
    database = settings_json("settings.DATABASES['default']", VAR_DIR=str(tmp_path))

    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(tmp_path / "db.sqlite3")
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert "PRAGMA journal_mode=WAL" in database["OPTIONS"]["init_command"]


# The suite's own database settings: marked as a database test, so `make test`
# runs it in its SQLite pass (the database-free tests run in the other).
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the suite runs on another database")
@pytest.mark.django_db
def test_it_configures_sqlite_for_concurrent_writers():
    options = settings.DATABASES["default"]["OPTIONS"]

    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "PRAGMA journal_mode=WAL" in options["init_command"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the suite runs on another database")
@pytest.mark.django_db
def test_it_runs_sqlite_in_wal_mode():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        (mode,) = cursor.fetchone()

    assert mode == "wal"


# --- secrets: only they are read from <NAME>_FILE ------------------------------------


def test_it_reads_a_secret_from_a_file_first(monkeypatch, tmp_path):
    path = tmp_path / "value"
    path.write_text("from-the-file\n")
    monkeypatch.setenv(VAR, "from-the-environment")
    monkeypatch.setenv(f"{VAR}_FILE", str(path))
    assert envsecret(VAR, "default") == "from-the-file"


def test_it_reads_a_secret_from_the_variable_without_a_file(monkeypatch):
    monkeypatch.delenv(f"{VAR}_FILE", raising=False)
    monkeypatch.setenv(VAR, "from-the-environment")
    assert envsecret(VAR, "default") == "from-the-environment"
    monkeypatch.delenv(VAR)
    assert envsecret(VAR, "default") == "default"


def test_it_rejects_a_secret_file_it_cannot_read(monkeypatch, tmp_path):
    missing = tmp_path / "missing"
    monkeypatch.setenv(f"{VAR}_FILE", str(missing))
    with pytest.raises(ImproperlyConfigured) as excinfo:
        envsecret(VAR, "default")
    assert str(excinfo.value).startswith(f"{VAR}_FILE: cannot read {missing}:")


def test_it_reads_an_ordinary_string_only_from_the_variable(monkeypatch, tmp_path):
    path = tmp_path / "value"
    path.write_text("from-the-file\n")
    monkeypatch.setenv(f"{VAR}_FILE", str(path))
    monkeypatch.setenv(VAR, "from-the-environment")
    assert envstr(VAR, "default") == "from-the-environment"
    monkeypatch.delenv(VAR)
    assert envstr(VAR, "default") == "default"


def test_it_reads_database_and_redis_urls_from_files(tmp_path):
    database_file, redis_file = tmp_path / "database_url", tmp_path / "redis_url"
    database_file.write_text("postgres://u:p@db:5432/x\n")
    redis_file.write_text("redis://:p@cache:6379/0\n")

    read = settings_json(
        "[settings.DATABASES['default']['HOST'], settings.REDIS_URL]",
        VAR_DIR=str(tmp_path),
        DATABASE_URL_FILE=str(database_file),
        REDIS_URL_FILE=str(redis_file),
    )

    assert read == ["db", "redis://:p@cache:6379/0"]


def test_it_does_not_read_an_ordinary_setting_from_a_file(tmp_path):
    suffix_file = tmp_path / "suffix"
    suffix_file.write_text("from-a-file.example\n")

    suffix = settings_json(
        "settings.INGRESS_DOMAIN_SUFFIX",
        VAR_DIR=str(tmp_path),
        INGRESS_DOMAIN_SUFFIX="shops.example.com",
        INGRESS_DOMAIN_SUFFIX_FILE=str(suffix_file),
    )

    assert suffix == "shops.example.com"


# --- the task queues, as django-q2 reads them --------------------------------------

# The cluster name and worker count a `manage.py qcluster` in that environment would use.
_WORKERS = "(lambda conf: [conf.CLUSTER_NAME, conf.WORKERS])(__import__('django_q.conf', fromlist=['Conf']).Conf)"


def test_it_gives_the_provision_cluster_one_worker_per_provisioning_slot(tmp_path):
    default = settings_json(_WORKERS, VAR_DIR=str(tmp_path))
    raised = settings_json(_WORKERS, VAR_DIR=str(tmp_path), MAX_CONCURRENT_PROVISIONS="5")

    assert default == ["provisioner", 2]
    assert raised == ["provisioner", 5]


def test_it_keeps_the_control_cluster_workers_apart_from_the_limit(tmp_path):
    control = settings_json(_WORKERS, VAR_DIR=str(tmp_path), MAX_CONCURRENT_PROVISIONS="5", Q_CLUSTER_NAME="control")

    assert control == ["control", 2]
