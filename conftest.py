"""Shared test fixtures: named users and clients logged in as them, a cold cache for
every test, and the fixture modules every app's tests may use (by name, never by import)."""

import pytest
from django.core.cache import cache

pytest_plugins = (
    "accounts.tests.clock",
    "stores.tests.fixtures",
    "tests.fixtures",
    "tests.chart_tools",
    "tests.ci_skips",
    "tests.objectstore",
)


@pytest.fixture(autouse=True)
def fresh_cache():
    """The store page caches its cluster reads per namespace (the default, in-memory
    cache): every test starts cold, whatever ran before it."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(request, settings):
    """Unit tests hash passwords with MD5 rather than PBKDF2's million rounds.

    Every user a test makes, and every password it signs in with, cost a quarter
    of a second of CPU: most of `make test-unit`'s time went there. No test is
    about the hasher's strength. The integration and browser tests keep the
    platform's hashers: their servers are processes of their own, with the
    platform's settings, and must verify the passwords these tests set.
    """
    if not (request.node.get_closest_marker("integration") or request.node.get_closest_marker("browser")):
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.org", "alice-password-1")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.org", "bob-password-1")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(alice, bob):
    from django.test import Client

    c = Client()
    c.force_login(bob)
    return c


# Pytest-django refuses database access to a test without the django_db mark
# or one of these fixtures, so a test that has neither cannot depend on which
# database runs the suite.
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
    "admin_user",
    "admin_client",
}


def pytest_addoption(parser):
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that use the database (`make test-postgres`)",
    )
    parser.addoption(
        "--database-or-realnode-tests-only",
        action="store_true",
        help=(
            "run only the tests that use the database, the real-node tests and those marked sqlite_pass "
            "(the SQLite pass of `make test`: the other database-free tests run once, in its PostgreSQL pass)"
        ),
    )


def pytest_collection_modifyitems(config, items):
    _deselect_postgres_tests_on_sqlite(config, items)
    database_only = config.getoption("--database-tests-only")
    with_realnode = config.getoption("--database-or-realnode-tests-only")
    if not (database_only or with_realnode):
        return
    keep, skip = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
        kept = uses_db or (
            with_realnode and (item.get_closest_marker("realnode") or item.get_closest_marker("sqlite_pass"))
        )
        (keep if kept else skip).append(item)
    if skip:
        config.hook.pytest_deselected(items=skip)
        items[:] = keep


def pytest_report_header(config):
    from django.conf import settings

    database = settings.DATABASES["default"]
    test_name = database.get("TEST", {}).get("NAME") or f"test_{database['NAME']}"
    where = f" on {database['HOST']}:{database['PORT']}" if database.get("HOST") else ""
    return f"database: {database['ENGINE'].rsplit('.', 1)[-1]} {test_name}{where}"


# Tests marked `postgres` model production (several processes on PostgreSQL);
# the SQLite pass of `make test` deselects them and says so at the end, and
# the PostgreSQL pass (--database-tests-only) runs them.
def _deselect_postgres_tests_on_sqlite(config, items):
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    postgres = [item for item in items if item.get_closest_marker("postgres")]
    if postgres:
        config.hook.pytest_deselected(items=postgres)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]
        config.stash[POSTGRES_DESELECTED] = len(postgres)


POSTGRES_DESELECTED = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter, config):
    count = config.stash.get(POSTGRES_DESELECTED, 0)
    if count:
        terminalreporter.write_line(
            f"{count} test(s) marked postgres deselected: the database is SQLite; "
            "the PostgreSQL pass (make test, make test-postgres) runs them"
        )
