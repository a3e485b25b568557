"""The dashboard's browser tests share one page setup, and start with no sign-in limits spent."""

import pytest
from django.core.cache import caches


@pytest.fixture
def page(chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(15_000)
    return page


@pytest.fixture(autouse=True)
def fresh_rate_limits(request):
    """Sign-ins are limited per client address (LOGIN_RATE, 5 a minute), and every browser test
    signs in from 127.0.0.1, through servers that count in the test database's rate-limit table.
    A flush leaves that table alone (it is no model's), so a test starts with the limits no earlier
    test spent, as it starts with its own rows."""
    if request.node.get_closest_marker("django_db") is not None:
        request.getfixturevalue("django_db_setup")
        with request.getfixturevalue("django_db_blocker").unblock():
            caches["ratelimit"].clear()
    yield
