import pytest


@pytest.fixture(autouse=True)
def _still_clock(still_throttle_clock):
    """Every account test counts login and sign-up attempts: keep them in one window."""
