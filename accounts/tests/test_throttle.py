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


def _forwarded(remote, xff):
    return client_ip(_request(remote=remote, **{"X-Forwarded-For": xff}))


def test_it_keys_by_the_peer_address_by_default(settings):
    assert (settings.TRUSTED_PROXY_HOPS, settings.TRUSTED_PROXIES) == (0, [])

    assert client_ip(_request(**{"X-Forwarded-For": "198.51.100.1", "X-Real-IP": "198.51.100.2"})) == "203.0.113.9"


def test_it_ignores_a_spoofed_chain_when_no_proxy_is_trusted(settings):
    assert _forwarded("203.0.113.9", "192.0.2.66, 198.51.100.7, 10.0.0.5") == "203.0.113.9"


# One proxy (the ingress controller) at 10.0.0.5; the client, 198.51.100.7, wrote
# "192.0.2.66" into X-Forwarded-For itself and the proxy appended what it saw.


def test_one_hop_takes_what_the_proxy_appended_not_the_forged_entry(settings):
    settings.TRUSTED_PROXY_HOPS = 1

    assert _forwarded("10.0.0.5", "192.0.2.66, 198.51.100.7") == "198.51.100.7"


def test_a_trusted_cidr_takes_what_the_proxy_appended_not_the_forged_entry(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]

    assert _forwarded("10.0.0.5", "192.0.2.66, 198.51.100.7") == "198.51.100.7"


# Two proxies: a load balancer at 10.0.0.4, then the ingress controller at 10.0.0.5
# (REMOTE_ADDR). The last entry is the load balancer's address, not the client's.


def test_two_hops_take_the_entry_the_outer_proxy_appended(settings):
    settings.TRUSTED_PROXY_HOPS = 2

    assert _forwarded("10.0.0.5", "192.0.2.66, 192.0.2.67, 198.51.100.7, 10.0.0.4") == "198.51.100.7"


def test_trusted_cidrs_skip_every_proxy_of_the_chain(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.4/32", "10.0.0.5/32"]

    assert _forwarded("10.0.0.5", "192.0.2.66, 192.0.2.67, 198.51.100.7, 10.0.0.4") == "198.51.100.7"


def test_trusted_cidrs_ignore_the_header_of_a_request_that_bypassed_the_proxy(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]

    assert _forwarded("203.0.113.9", "198.51.100.7") == "203.0.113.9"
    assert _forwarded("203.0.113.9", "10.0.0.4") == "203.0.113.9"


def test_trusted_cidrs_match_an_ipv4_peer_of_a_dual_stack_socket(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24", "2001:db8::/64"]

    assert _forwarded("::ffff:10.0.0.5", "198.51.100.7") == "198.51.100.7"
    assert _forwarded("2001:db8::5", "2001:db8:1::7") == "2001:db8:1::7"


def test_trusted_cidrs_take_the_leftmost_entry_when_every_one_is_trusted(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]

    # A client inside the trusted range (another pod) is itself.
    assert _forwarded("10.0.0.5", "10.0.0.9") == "10.0.0.9"


@pytest.mark.parametrize(
    "xff",
    ["", "unknown", "198.51.100.7:4711", "198.51.100.7, 10.0.0.4, garbage", "198.51.100.7 10.0.0.4"],
)
def test_hops_fall_back_to_the_peer_for_a_missing_or_malformed_entry(settings, xff):
    settings.TRUSTED_PROXY_HOPS = 1

    assert _forwarded("10.0.0.5", xff) == "10.0.0.5"


def test_hops_fall_back_to_the_peer_when_a_proxy_did_not_add_its_entry(settings):
    settings.TRUSTED_PROXY_HOPS = 3

    # Three proxies would have written three entries: the client's one proves nothing.
    assert _forwarded("10.0.0.5", "192.0.2.66, 10.0.0.4") == "10.0.0.5"


@pytest.mark.parametrize("xff", ["", "unknown", "198.51.100.7, garbage", "198.51.100.7, 10.0.0.4:80"])
def test_trusted_cidrs_stop_at_the_last_proxy_before_a_malformed_entry(settings, xff):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]

    assert _forwarded("10.0.0.5", xff) == "10.0.0.5"


def test_trusted_cidrs_keep_an_address_the_walk_vouched_for_before_a_malformed_entry(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]

    assert _forwarded("10.0.0.5", "garbage, 10.0.0.4") == "10.0.0.4"


def test_it_normalises_the_address_it_takes(settings):
    settings.TRUSTED_PROXY_HOPS = 1

    assert _forwarded("10.0.0.5", " 2001:DB8:0:0::1 ") == "2001:db8::1"


def test_it_reads_the_trusted_proxies_from_the_environment():
    values = _settings_json(
        "[settings.TRUSTED_PROXY_HOPS, settings.TRUSTED_PROXIES]", TRUSTED_PROXIES="10.42.0.0/16, 2001:db8::/64"
    )

    assert values == [0, ["10.42.0.0/16", "2001:db8::/64"]]
    assert _settings_json("[settings.TRUSTED_PROXY_HOPS, settings.TRUSTED_PROXIES]", TRUSTED_PROXY_HOPS="2") == [2, []]


def test_it_trusts_no_proxy_by_default():
    assert _settings_json("[settings.TRUSTED_PROXY_HOPS, settings.TRUSTED_PROXIES]") == [0, []]


@pytest.mark.parametrize(
    "env, message",
    [
        ({"TRUSTED_PROXY_HOPS": "-1"}, "TRUSTED_PROXY_HOPS must be at least 0, not -1"),
        ({"TRUSTED_PROXY_HOPS": "one"}, "TRUSTED_PROXY_HOPS must be a whole number, not 'one'"),
        ({"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES: '10.0.0.0/33' is not a CIDR range like 10.0.0.0/8"),
        (
            {"TRUSTED_PROXY_HOPS": "1", "TRUSTED_PROXIES": "10.0.0.0/8"},
            "TRUSTED_PROXY_HOPS and TRUSTED_PROXIES both say which proxies to trust: set one of them, not both",
        ),
        (
            {"CLIENT_IP_HEADER": "X-Forwarded-For"},
            "CLIENT_IP_HEADER is no longer read: set TRUSTED_PROXY_HOPS to the number of proxies in front of the"
            " platform that append to X-Forwarded-For (1 for an ingress controller alone), or TRUSTED_PROXIES",
        ),
    ],
)
def test_it_refuses_to_start_with_a_malformed_proxy_setting(env, message):
    result = _run(["-c", "import django; django.setup()"], **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_it_reads_the_username_and_password_change_limits():
    values = _settings_json(
        "[settings.LOGIN_USERNAME_RATE, settings.PASSWORD_CHANGE_RATE]",
        LOGIN_USERNAME_RATE="20/d",
        PASSWORD_CHANGE_RATE="",
    )

    assert values == ["20/d", None]


def test_it_has_defaults_for_the_username_and_password_change_limits():
    assert _settings_json("[settings.LOGIN_USERNAME_RATE, settings.PASSWORD_CHANGE_RATE]") == ["10/h", "10/h"]
