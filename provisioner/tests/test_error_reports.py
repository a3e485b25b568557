"""Error reports (the DEBUG page, the mails to ADMINS) show no URL with credentials."""

import sys

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter, technical_500_response

from provisioner.reporting import CredentialFilter

PASSWORD = "s3cret-redis-pw"
REDIS = f"redis://:{PASSWORD}@redis.platform.svc:6379/0"


@pytest.fixture
def credentials_in_settings(settings):
    settings.REDIS_URL = REDIS
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": REDIS}
    settings.CACHES = {
        **settings.CACHES,
        "ratelimit": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS},
    }
    settings.SMTP_RELAY = f"smtp://mailer:{PASSWORD}@mail.example.com:587"


def _failed_request():
    # Under some servers (runserver among them) META carries the process environment.
    request = RequestFactory().get("/stores/", REDIS_URL=REDIS, HTTP_X_UPSTREAM=f"https://token-{PASSWORD}@up.example")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        return request, sys.exc_info()


def test_the_debug_page_shows_no_url_with_credentials(credentials_in_settings):
    request, exc_info = _failed_request()

    page = technical_500_response(request, *exc_info).content.decode()

    assert "RuntimeError" in page and "REDIS_URL" in page
    assert PASSWORD not in page


def test_the_plain_text_report_mailed_to_admins_shows_none_either(credentials_in_settings):
    request, exc_info = _failed_request()

    text = ExceptionReporter(request, *exc_info).get_traceback_text()

    assert "Q_CLUSTER" in text
    assert PASSWORD not in text


def test_it_keeps_urls_without_credentials_readable(settings):
    settings.SITE_URL = "https://provisioner.example.com"

    safe = CredentialFilter().get_safe_settings()

    assert safe["SITE_URL"] == "https://provisioner.example.com"
