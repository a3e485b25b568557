"""A still clock for the throttles' windows.

django-ratelimit counts in fixed windows of time: a test whose requests
straddled the end of one would see its count start again from zero. Tests that
count requests hold the throttles' clock still instead.
"""

import time
from types import SimpleNamespace

import pytest


@pytest.fixture
def still_throttle_clock(monkeypatch):
    import django_ratelimit.core

    now = time.time()
    monkeypatch.setattr(django_ratelimit.core, "time", SimpleNamespace(time=lambda: now))
    return now
