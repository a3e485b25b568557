"""Debian's Chromium as the browser tests drive it (the `chromium` fixture is in conftest.py)."""

from tests.platform import ARTIFACTS_DIR

CHROMIUM = "/usr/bin/chromium"
# The machine has no network but loopback: keep Chromium from reaching out.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ARTIFACTS_DIR / "screenshots"


def screenshot(page, name: str) -> None:
    """A full-page PNG in the run's screenshots directory (artifacts/screenshots/), to be looked at."""
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
