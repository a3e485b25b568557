"""What the tests of `make run` on a fresh machine share: a shell's environment
without what the test process and the other tests set, and whether the web
server it starts answers yet."""

from __future__ import annotations

import os
import urllib.request

# Set by the test process or the other tests; a fresh shell has none of them.
INHERITED = {
    "KUBECONFIG",
    "HELM_BIN",
    "DATABASE_URL",
    "REDIS_URL",
    "CHECK_STORE_URL",
    "CLUSTER_MODE",
    "VAR_DIR",
    "DJANGO_SETTINGS_MODULE",
    "PORT",
    "HOST",
    "SITE_URL",
    "CLUSTER_STATUS_FILE",
}


def fresh_shell_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in INHERITED}


def serves_login(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/accounts/login/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
