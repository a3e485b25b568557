"""`manage.py stores doctor`: the cluster, helm and the charts' pinned images."""

import io
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command

from stores import images
from tests.charts.registry_standin import closed_port_url, library_registry, serve

# The Medusa store image is built here (make medusa-image), its tag follows the project.
STORE_IMAGE = "localhost/store-provisioner/medusa:{tag}".format(
    tag=yaml.safe_load((Path(__file__).resolve().parents[2] / "charts/medusa/values.yaml").read_text())["image"]["tag"]
)
PULLED = [
    "docker.io/library/wordpress:7.1.0-php8.3-apache",
    "docker.io/library/mariadb:11.8.8",
    "docker.io/library/wordpress:cli-2.12.0-php8.3",
    "docker.io/library/postgres:17.11-bookworm",
    "docker.io/library/redis:8.2.9-bookworm",
]
PINNED = [*PULLED[:3], STORE_IMAGE, *PULLED[3:]]


@pytest.fixture
def doctor(fake_cluster, settings):
    """Runs doctor against the fake cluster; returns (output, error or "")."""
    settings.HELM_BIN = "/bin/echo"
    settings.CHART_VALUES_PROFILE = "kind"
    settings.STORE_VALUES_FILES = []

    def run():
        out = io.StringIO()
        try:
            call_command("stores", "doctor", stdout=out)
        except CommandError as exc:
            return out.getvalue(), str(exc)
        return out.getvalue(), ""

    return run


def test_it_lists_the_images_the_charts_pin():
    assert images.pinned_images() == PINNED


def test_it_lists_an_image_mirror_from_the_operators_values(settings, tmp_path):
    mirror = tmp_path / "mirror.yaml"
    mirror.write_text(yaml.safe_dump({"mariadb": {"image": {"repository": "mirror.example/mariadb"}}}))
    settings.STORE_VALUES_FILES = [str(mirror)]
    assert "mirror.example/mariadb:11.8.8" in images.pinned_images()


def test_it_reports_each_pinned_image_pullable_when_a_stand_in_registry_serves_it(doctor, settings):
    # The stand-in serves the tags tests/charts/official_images.py recorded
    # when the pins were taken: this checks doctor's report of a registry
    # that has them, not that Docker Hub has them (only a run of
    # `manage.py stores doctor` against the real registry tells that).
    with serve(library_registry()) as registry:
        settings.IMAGE_REGISTRY_URL = registry.url
        out, error = doctor()
    assert error == ""
    for image in PULLED:
        assert f"Image: {image} can be pulled" in out
    # A locally built image is no registry's to answer for.
    assert f"Image: {STORE_IMAGE} is built here and loaded into the cluster, not pulled" in out


def test_it_names_the_image_that_cannot_be_pulled(doctor, settings, tmp_path):
    stale = tmp_path / "stale.yaml"
    stale.write_text(yaml.safe_dump({"mariadb": {"image": {"tag": "11.8.9"}}}))
    settings.STORE_VALUES_FILES = [str(stale)]
    with serve(library_registry()) as registry:
        settings.IMAGE_REGISTRY_URL = registry.url
        out, error = doctor()
    assert "Image docker.io/library/mariadb:11.8.9 cannot be pulled: tag not found" in error
    assert "Image: docker.io/library/wordpress:7.1.0-php8.3-apache can be pulled" in out
    assert "Kubernetes:" in out


def test_it_says_in_one_line_that_no_registry_answers(doctor, settings):
    settings.IMAGE_REGISTRY_URL = closed_port_url()
    out, error = doctor()
    assert error == ""
    # One line for the registry's images (the locally built one needs none).
    lines = [line for line in out.splitlines() if line.startswith("Image") and "built here" not in line]
    assert len(lines) == 1
    assert lines[0].startswith(f"Images: registry {settings.IMAGE_REGISTRY_URL} is not reachable (")
    assert lines[0].endswith("); pinned images not checked")
    assert "Kubernetes:" in out and "Helm:" in out
