"""Can the charts' images be pulled? Asks the registries' v2 API.

A pinned tag that the registry no longer lists fails a store at ErrImagePull,
minutes into its provision. `stores doctor` asks first: for each image, a
HEAD of its manifest (anonymous, with the bearer token the registry's
``WWW-Authenticate`` challenge points at, as ``docker pull`` does). HEAD
requests do not count against Docker Hub's pull rate limit.

Django-free: the registry for docker.io images comes in as an argument.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, cast

DOCKER_HUB = "docker.io"
# Index types first: the official images are multi-architecture.
MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class ImageCheck:
    image: str
    pullable: bool
    detail: str  # "found", "tag not found", "HTTP 401 ..."


@dataclass
class ImageReport:
    checked: list[ImageCheck] = field(default_factory=list)
    # registry base URL -> why it could not be asked
    unreachable: dict[str, str] = field(default_factory=dict)
    # Images on host "localhost": built on this machine and loaded into the
    # cluster (the Medusa store image), never pulled, so no registry is asked.
    local: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[ImageCheck]:
        return [check for check in self.checked if not check.pullable]


def images_in_values(values: dict[str, Any]) -> list[str]:
    """Every ``image: {repository, tag[, digest]}`` in a chart's values, in order, once."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            image = node.get("image")
            if isinstance(image, dict) and image.get("repository") and image.get("tag"):
                ref = f"{image['repository']}:{image['tag']}"
                if image.get("digest"):
                    ref += f"@{image['digest']}"
                if ref not in found:
                    found.append(ref)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(values)
    return found


def parse_image(ref: str) -> tuple[str, str, str]:
    """``(registry host, repository, tag or digest)`` of an image reference."""
    name, reference = ref, "latest"
    if "@" in name:
        name, reference = name.split("@", 1)
    else:
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            name, reference = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        host, repository = first, rest
    else:
        host, repository = DOCKER_HUB, name
    if host == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    return host, repository, reference


def check_images(images: list[str], *, docker_hub_url: str, timeout: float = 5.0) -> ImageReport:
    """Ask each image's registry for its manifest; never raises for one image.

    A registry that does not answer at all is reported once in ``unreachable``
    and its other images are not asked (one timeout, not one per image).
    """
    report = ImageReport()
    for ref in images:
        host, repository, reference = parse_image(ref)
        if host == "localhost":
            report.local.append(ref)
            continue
        base = docker_hub_url.rstrip("/") if host == DOCKER_HUB else f"https://{host}"
        if base in report.unreachable:
            continue
        try:
            report.checked.append(_check(ref, base, repository, reference, timeout))
        except _Unreachable as exc:
            report.unreachable[base] = str(exc)
    return report


class _Unreachable(Exception):
    pass


def _check(ref: str, base: str, repository: str, reference: str, timeout: float) -> ImageCheck:
    url = f"{base}/v2/{repository}/manifests/{urllib.parse.quote(reference, safe=':')}"
    status, headers = _head(url, None, timeout)
    if status == 401:
        token = _token(headers.get("WWW-Authenticate", ""), timeout)
        if token:
            status, headers = _head(url, token, timeout)
    if status == 200:
        return ImageCheck(ref, True, "found")
    if status == 404:
        return ImageCheck(ref, False, "tag not found")
    # Docker Hub answers 401 for a repository that does not exist.
    return ImageCheck(ref, False, f"HTTP {status} from {base}")


def _head(url: str, token: str | None, timeout: float) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})  # noqa: S310
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (an https registry URL)
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {})
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise _Unreachable(f"{reason}") from exc


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


def _token(challenge: str, timeout: float) -> str | None:
    """An anonymous pull token from the realm a Bearer challenge names."""
    if not challenge.lower().startswith("bearer "):
        return None
    params = dict(_CHALLENGE.findall(challenge))
    realm = params.pop("realm", "")
    if not realm:
        return None
    url = f"{realm}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (the registry's token realm)
            body = json.loads(response.read().decode() or "{}")
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise _Unreachable(f"token service {realm}: {getattr(exc, 'reason', exc)}") from exc
    # A token service answers with a JSON object naming the token.
    return cast("str | None", body.get("token") or body.get("access_token"))
