"""Whether an image can be pulled: the registry v2 manifest check."""

from __future__ import annotations

import pytest

from stores.cluster.registry import check_images, images_in_values, parse_image
from tests.charts.registry_standin import Registry, closed_port_url, serve


@pytest.mark.parametrize(
    "ref, parsed",
    [
        ("docker.io/library/wordpress:7.1.0-php8.3-apache", ("docker.io", "library/wordpress", "7.1.0-php8.3-apache")),
        ("mariadb:11.8.8", ("docker.io", "library/mariadb", "11.8.8")),
        ("someone/tool:1", ("docker.io", "someone/tool", "1")),
        ("registry.example:5000/wp:cli-2.12.0-php8.3", ("registry.example:5000", "wp", "cli-2.12.0-php8.3")),
        ("localhost/wp", ("localhost", "wp", "latest")),
        ("ghcr.io/o/db@sha256:abc", ("ghcr.io", "o/db", "sha256:abc")),
    ],
)
def test_it_parses_image_references(ref, parsed):
    assert parse_image(ref) == parsed


def test_it_finds_every_pinned_image_in_values_once():
    values = {
        "web": {"image": {"repository": "docker.io/library/wordpress", "tag": "7.1.0-php8.3-apache"}},
        "db": {"image": {"repository": "docker.io/library/mariadb", "tag": "11.8.8"}},
        "jobs": [{"image": {"repository": "docker.io/library/mariadb", "tag": "11.8.8"}}],
        "unpinned": {"image": {"repository": "busybox"}},
    }
    assert images_in_values(values) == [
        "docker.io/library/wordpress:7.1.0-php8.3-apache",
        "docker.io/library/mariadb:11.8.8",
    ]


def test_it_asks_for_the_manifest_with_an_anonymous_token():
    with serve(Registry({"library/mariadb": {"11.8.8"}})) as registry:
        report = check_images(["docker.io/library/mariadb:11.8.8"], docker_hub_url=registry.url)
    assert [(c.image, c.pullable, c.detail) for c in report.checked] == [
        ("docker.io/library/mariadb:11.8.8", True, "found"),
    ]
    assert registry.requests == [
        ("HEAD", "/v2/library/mariadb/manifests/11.8.8"),
        ("GET", "/token"),
        ("HEAD", "/v2/library/mariadb/manifests/11.8.8"),
    ]


def test_it_says_which_tag_is_missing():
    with serve(Registry({"library/mariadb": {"11.8.8"}})) as registry:
        report = check_images(["mariadb:11.8.8", "mariadb:11.8.9", "wordpress:7.1.0"], docker_hub_url=registry.url)
    assert [(c.image, c.detail) for c in report.missing] == [
        ("mariadb:11.8.9", "tag not found"),
        ("wordpress:7.1.0", "tag not found"),
    ]
    assert report.unreachable == {}


def test_it_reports_an_unreachable_registry_once():
    url = closed_port_url()
    report = check_images(["mariadb:11.8.8", "wordpress:7.1.0"], docker_hub_url=url, timeout=2)
    assert report.checked == []
    assert list(report.unreachable) == [url]
