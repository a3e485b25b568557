"""The simulated-cluster banner: on every page when `make run` fell back to the local control plane."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

BANNER = "stores are provisioned for real against a local Kubernetes API, but their containers do not run"


@pytest.mark.django_db
def test_it_shows_the_banner_on_every_page_on_a_simulated_cluster(alice_client, settings):
    settings.CLUSTER_MODE = "simulated"
    anonymous = Client()
    for page_client, path in (
        (anonymous, "/accounts/login/"),
        (anonymous, "/accounts/register/"),
        (alice_client, "/"),
        (alice_client, "/accounts/profile/"),
    ):
        response = page_client.get(path)
        assert response.status_code == 200, path
        assert BANNER in response.content.decode(), path


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["", "kubeconfig", "kind"])
def test_it_shows_no_banner_on_a_real_cluster(alice_client, settings, mode):
    settings.CLUSTER_MODE = mode
    assert BANNER not in Client().get("/accounts/login/").content.decode()
    assert BANNER not in alice_client.get("/").content.decode()


def test_it_rejects_an_unknown_cluster_mode():
    env = {k: v for k, v in os.environ.items() if k != "CLUSTER_MODE"}
    env.update(CLUSTER_MODE="kwok", DJANGO_SETTINGS_MODULE="provisioner.settings")
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CLUSTER_MODE must be kubeconfig, kind or simulated, not 'kwok'" in result.stderr
