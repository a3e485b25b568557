"""Settings as a fresh process reads them: `manage.py` and `python -c` runs with a
clean environment, for the tests that check what an environment variable does."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]

# Variables the settings module reads; the subprocesses start without any of them.
SETTINGS_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "VAR_DIR",
    "DATABASE_URL",
    "DATABASE_URL_FILE",
    "DB_CONN_MAX_AGE",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "USE_X_FORWARDED_PROTO",
    "REDIS_URL",
    "MAX_STORES_PER_USER",
    "MAX_CONCURRENT_PROVISIONS",
    "TRUSTED_PROXY_HOPS",
    "TRUSTED_PROXIES",
    "CLIENT_IP_HEADER",
    "STORE_DNS_PEERS",
    "STORE_EGRESS_PORTS",
    "STORE_DEFAULT_COUNTRY",
    "STORE_DEFAULT_CURRENCY",
    "DJANGO_SETTINGS_MODULE",
    # Read by Django itself; a deploy check refuses it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def run(args, **env):
    """Run with none of the settings' variables but `env`; DEBUG is on (development)
    unless `env` sets it, and a variable given as None is left unset."""
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    clean["DEBUG"] = "true"
    clean.update(env)
    clean = {k: v for k, v in clean.items() if v is not None}
    clean.setdefault("DJANGO_SETTINGS_MODULE", "provisioner.settings")
    return subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=clean, capture_output=True, text=True, timeout=120)


def production(tmp_path, **overrides):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "provisioner.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://provisioner.example.com",
        "VAR_DIR": str(tmp_path),
    }
    env.update(overrides)
    return env


def settings_json(expression, **env):
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({expression}, default=str))"
    )
    result = run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
