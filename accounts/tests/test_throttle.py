"""The throttles' shared counter store, the client address they key by, and their settings."""

import multiprocessing

import pytest
from django.core.cache import caches
from django.db import connection, connections
from django.test import RequestFactory

from accounts.throttle import AtomicDatabaseCache, client_ip
from provisioner.tests.settings_probe import production as _production
from provisioner.tests.settings_probe import run as _run
from provisioner.tests.settings_probe import settings_json as _settings_json


def _incr_many(key: str, times: int, failures) -> None:
    """One process: increment the shared counter `times` times."""
    connections.close_all()
    cache = caches["ratelimit"]
    for _ in range(times):
        try:
            cache.incr(key)
        except Exception:
            with failures.get_lock():
                failures.value += 1
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_it_counts_every_increment_from_concurrent_processes():
    cache = caches["ratelimit"]
    cache.add("concurrent", 0, 60)
    connections.close_all()

    ctx = multiprocessing.get_context("fork")
    failures = ctx.Value("i", 0)
    workers = [ctx.Process(target=_incr_many, args=("concurrent", 25, failures)) for _ in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0

    assert failures.value == 0
    assert cache.get("concurrent") == 100
    cache.delete("concurrent")


def _expires(cache, key):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT expires FROM {connection.ops.quote_name(cache._table)} WHERE cache_key = %s",  # noqa: S608
            [cache.make_and_validate_key(key)],
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_it_keeps_the_expiry_when_it_increments():
    cache = caches["ratelimit"]
    cache.add("hourly", 1, 3600)
    before = _expires(cache, "hourly")

    assert cache.incr("hourly") == 2
    assert cache.incr("hourly", 3) == 5

    assert _expires(cache, "hourly") == before
    assert cache.get("hourly") == 5


@pytest.mark.django_db
def test_it_refuses_to_increment_a_missing_key():
    cache = caches["ratelimit"]

    with pytest.raises(ValueError):
        cache.incr("nothing-here")

    assert cache.get("nothing-here") is None


def test_it_keeps_counters_in_the_database_without_redis():
    assert isinstance(caches["ratelimit"], AtomicDatabaseCache)


def test_it_keeps_counters_in_redis_when_there_is_one():
    backend = _settings_json(
        "[settings.CACHES['ratelimit']['BACKEND'], settings.CACHES['ratelimit']['LOCATION'], "
        "settings.RATELIMIT_USE_CACHE]",
        REDIS_URL="redis://127.0.0.1:6379/0",
    )

    assert backend == ["django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/0", "ratelimit"]


def test_it_reads_the_limits_from_the_environment():
    values = _settings_json(
        "[settings.LOGIN_RATE, settings.REGISTRATION_RATE, settings.STORE_CREATE_RATE, settings.STORE_ACTION_RATE,"
        " settings.MAX_LIVE_STORES]",
        LOGIN_RATE="10/5m",
        REGISTRATION_RATE="",
        STORE_CREATE_RATE="3/h",
        STORE_ACTION_RATE="60/h",
        MAX_LIVE_STORES="40",
    )

    assert values == ["10/5m", None, "3/h", "60/h", 40]


def test_it_has_defaults_for_the_limits():
    values = _settings_json(
        "[settings.LOGIN_RATE, settings.REGISTRATION_RATE, settings.STORE_CREATE_RATE, settings.STORE_ACTION_RATE,"
        " settings.MAX_LIVE_STORES]"
    )

    assert values == ["5/m", "5/m", "5/m", "20/m", 20]


def test_it_turns_the_cap_off_when_empty():
    assert _settings_json("settings.MAX_LIVE_STORES", MAX_LIVE_STORES="") == 0


@pytest.mark.parametrize("raw", ["5/minute", "5", "0/m", "x/m", "5/m/h"])
def test_it_rejects_a_malformed_rate(raw):
    result = _run(["-c", "import django; django.setup()"], LOGIN_RATE=raw)

    assert result.returncode != 0
    assert f"LOGIN_RATE must look like 5/m or 10/h (count/period), not {raw!r}" in result.stderr


def test_it_opens_registration_in_development_only(tmp_path):
    assert _settings_json("settings.REGISTRATION_OPEN", DEBUG="true", VAR_DIR=str(tmp_path)) is True
    assert _settings_json("settings.REGISTRATION_OPEN", **_production(tmp_path)) is False
    assert _settings_json("settings.REGISTRATION_OPEN", **_production(tmp_path, REGISTRATION_OPEN="true")) is True


# --- the client address ---------------------------------------------------------------


def _request(remote="203.0.113.9", **headers):
    return RequestFactory().post("/accounts/login/", REMOTE_ADDR=remote, headers=headers)


def test_it_keys_by_the_peer_address_by_default(settings):
    settings.CLIENT_IP_HEADER = ""

    assert client_ip(_request(**{"X-Forwarded-For": "198.51.100.1", "X-Real-IP": "198.51.100.2"})) == "203.0.113.9"


def test_it_takes_the_address_a_trusted_proxy_appended(settings):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"

    # The client sent "1.2.3.4" itself; the proxy appended what it saw.
    assert client_ip(_request(remote="10.0.0.5", **{"X-Forwarded-For": "1.2.3.4, 198.51.100.7"})) == "198.51.100.7"


def test_it_reads_a_single_address_header(settings):
    settings.CLIENT_IP_HEADER = "X-Real-IP"

    assert client_ip(_request(remote="10.0.0.5", **{"X-Real-IP": "2001:db8::1"})) == "2001:db8::1"


def test_it_falls_back_to_the_peer_when_the_header_is_missing_or_bogus(settings):
    settings.CLIENT_IP_HEADER = "X-Real-IP"

    assert client_ip(_request(remote="10.0.0.5")) == "10.0.0.5"
    assert client_ip(_request(remote="10.0.0.5", **{"X-Real-IP": "not-an-address"})) == "10.0.0.5"
