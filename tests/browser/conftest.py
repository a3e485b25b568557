"""The dashboard's browser tests share one page setup."""

import pytest


@pytest.fixture
def page(chromium):
    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(15_000)
    return page
