"""kube-score over every rendered chart (each values profile) and the guardrails.

kube-score is built from the Go module proxy (`make kube-score`, pinned in
localcluster/versions.env). Every finding it reports must be listed in
ACCEPTED with the reason it is accepted by design; any other finding fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stores.cluster.guardrails import GuardrailSpec, guardrail_objects
from woocommerce_chart_support import CHART_DIR, REPO_ROOT, render

_PINNED = ("the tags are full, immutable versions (never `latest`), so IfNotPresent pulls each once per "
           "node; Always would add a registry round trip to every pod start and stall stores when the "
           "registry rate-limits")
_LOW_IDS = ("the official images run as their own users (www-data 33, mysql 999) and the content volume's "
            "files must belong to uid 33 as WordPress expects; runAsNonRoot and the restricted profile hold")
_WRITABLE_ROOT = ("the official image writes to its own filesystem at start and run time (Apache's run/lock "
                  "dirs and PHP sessions; MariaDB's socket dir and temporary files); the disk it may use is "
                  "bounded by its ephemeral-storage limit")
_ONE_POD = ("the content volume is ReadWriteOnce: one WordPress pod per store, replaced with Recreate so two "
            "never mount it at once")

# (check id, "Kind/name") -> why the finding is accepted by design.
ACCEPTED: dict[tuple[str, str], str] = {
    ("container-image-pull-policy", "Deployment/store-acme-wordpress"): _PINNED,
    ("container-image-pull-policy", "StatefulSet/store-acme-mariadb"): _PINNED,
    ("container-image-pull-policy", "Job/store-acme-setup"): _PINNED,
    ("container-security-context-user-group-id", "Deployment/store-acme-wordpress"): _LOW_IDS,
    ("container-security-context-user-group-id", "StatefulSet/store-acme-mariadb"): _LOW_IDS,
    ("container-security-context-user-group-id", "Job/store-acme-setup"): _LOW_IDS,
    ("container-security-context-readonlyrootfilesystem", "Deployment/store-acme-wordpress"): _WRITABLE_ROOT,
    ("container-security-context-readonlyrootfilesystem", "StatefulSet/store-acme-mariadb"): _WRITABLE_ROOT,
    ("deployment-replicas", "Deployment/store-acme-wordpress"): _ONE_POD,
    ("deployment-strategy", "Deployment/store-acme-wordpress"): _ONE_POD,
}

_MEDUSA_IDS = ("the official images run as their own users (node 1000, postgres and redis 999), and the app "
               "volume's files belong to the node user; runAsNonRoot and the restricted profile hold")
_MEDUSA_ONE_POD = ("one pod per store by design: the Medusa server, storefront and Redis share nothing worth "
                   "scaling at a single store's traffic, and the app volume is ReadWriteOnce")
_MEDUSA_HEALTH = ("/health is the Medusa server's only health endpoint; liveness allows 6 failures 20 s apart "
                  "against readiness's 3 at 10 s, so a slow moment takes the pod out of the Service long "
                  "before it is restarted")

# The same, for charts/medusa (release "store", as the platform installs it).
MEDUSA_ACCEPTED: dict[tuple[str, str], str] = {
    **{("container-image-pull-policy", name): _PINNED
       for name in ("Deployment/store-medusa", "Deployment/store-storefront", "Deployment/store-redis",
                    "StatefulSet/store-postgres", "Job/store-setup")},
    **{("container-security-context-user-group-id", name): _MEDUSA_IDS
       for name in ("Deployment/store-medusa", "Deployment/store-storefront", "Deployment/store-redis",
                    "StatefulSet/store-postgres", "Job/store-setup")},
    **{("deployment-replicas", name): _MEDUSA_ONE_POD
       for name in ("Deployment/store-medusa", "Deployment/store-storefront", "Deployment/store-redis")},
    ("pod-probes-identical", "Deployment/store-medusa"): _MEDUSA_HEALTH,
}

PROFILES = [None, "values-kind.yaml", "values-k3s.yaml"]
GRADE_OK = 10


def find_kube_score() -> str | None:
    """KUBE_SCORE_BIN, else the local cluster's link, else the versioned cache, else PATH."""
    pinned = dict(
        line.split("#")[0].strip().split("=", 1)
        for line in (REPO_ROOT / "localcluster" / "versions.env").read_text().splitlines()
        if "=" in line.split("#")[0]
    )["KUBE_SCORE_VERSION"]
    cache = Path(os.environ.get("STORE_PROVISIONER_CACHE", Path.home() / ".cache" / "store-provisioner"))
    state = Path(os.environ.get("LOCALCLUSTER_DIR", REPO_ROOT / ".localcluster"))
    for candidate in (os.environ.get("KUBE_SCORE_BIN"), state / "bin" / "kube-score",
                      cache / "bin" / f"kube-score-{pinned}", shutil.which("kube-score")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def findings(kube_score: str, objects: list[dict], tmp_path: Path) -> dict[tuple[str, str], list[str]]:
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(yaml.safe_dump_all(objects, sort_keys=False))
    result = subprocess.run(
        [kube_score, "score", "-o", "json", "--kubernetes-version", "v1.36", str(manifest)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    # Exit status 1 only says that something was graded critical; the JSON says what.
    assert result.stdout.strip(), result.stderr
    found: dict[tuple[str, str], list[str]] = {}
    for scored in json.loads(result.stdout):
        name = f"{scored['type_meta']['kind']}/{scored['object_meta']['name']}"
        for check in scored["checks"]:
            if check["skipped"] or check["grade"] >= GRADE_OK:
                continue
            comments = [f"{c.get('path', '')}: {c.get('summary', '')}" for c in check.get("comments") or []]
            found[(check["check"]["id"], name)] = comments
    return found


def namespace_objects(helm: str, values_file: Path, profile: str | None) -> list[dict]:
    """What a store namespace holds: the guardrails and the rendered chart (scored together,
    so the policy checks see the pods they select)."""
    extra = ["-f", str(CHART_DIR / profile)] if profile else []
    return guardrail_objects(GuardrailSpec()) + render(helm, values_file, *extra)


@pytest.mark.parametrize("profile", PROFILES)
def test_it_finds_nothing_new_in_a_store_namespace(kube_score, helm, platform_values_file, tmp_path, profile):
    found = findings(kube_score, namespace_objects(helm, platform_values_file, profile), tmp_path)
    unexpected = {key: comments for key, comments in found.items() if key not in ACCEPTED}
    assert unexpected == {}


def test_every_accepted_finding_still_occurs(kube_score, helm, platform_values_file, tmp_path):
    # An accepted finding that no longer occurs is a stale excuse: remove it.
    seen: set = set()
    for profile in PROFILES:
        seen |= set(findings(kube_score, namespace_objects(helm, platform_values_file, profile), tmp_path))
    assert set(ACCEPTED) - seen == set()


def medusa_namespace_objects(helm: str, values_file: Path, profile: str | None) -> list[dict]:
    """A Medusa store's namespace: its raised guardrails and the rendered chart."""
    from stores.engines.medusa import MEDUSA
    from test_medusa_chart import CHART_DIR as MEDUSA_CHART_DIR
    from test_medusa_chart import render as render_medusa

    spec = GuardrailSpec()
    spec.quota.update(MEDUSA.quota_overrides)
    spec.container_max.update(MEDUSA.container_max_overrides)
    extra = ["-f", str(MEDUSA_CHART_DIR / profile)] if profile else []
    return guardrail_objects(spec) + render_medusa(helm, values_file, *extra)


@pytest.fixture(scope="module")
def medusa_values_file(tmp_path_factory) -> Path:
    from test_medusa_chart import platform_values as medusa_values

    path = tmp_path_factory.mktemp("medusa") / "platform-values.yaml"
    path.write_text(yaml.safe_dump(medusa_values()))
    return path


@pytest.mark.parametrize("profile", PROFILES)
def test_it_finds_nothing_new_in_a_medusa_store_namespace(kube_score, helm, medusa_values_file, tmp_path, profile):
    found = findings(kube_score, medusa_namespace_objects(helm, medusa_values_file, profile), tmp_path)
    unexpected = {key: comments for key, comments in found.items() if key not in MEDUSA_ACCEPTED}
    assert unexpected == {}


def test_every_accepted_medusa_finding_still_occurs(kube_score, helm, medusa_values_file, tmp_path):
    seen: set = set()
    for profile in PROFILES:
        seen |= set(findings(kube_score, medusa_namespace_objects(helm, medusa_values_file, profile), tmp_path))
    assert set(MEDUSA_ACCEPTED) - seen == set()
