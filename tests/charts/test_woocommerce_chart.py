"""What is particular to charts/woocommerce, rendered with `helm template`.

The engine contract (placement, schema, labels, resources, guardrails, pins,
kube-score, secret keys, lint) is held for every engine by tests/engines/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from stores.engines.woocommerce import WOOCOMMERCE
from tests.charts.woocommerce_chart_support import CHART_DIR, NAMESPACE, PLATFORM_VALUES, RELEASE, render, run_helm
from tests.engines.support import containers, guardrails, quantity, workloads

STORE = PLATFORM_VALUES["store"]

# The content volume's html/ directory, where WordPress lives in every pod that mounts it.
CONTENT_MOUNT = {"name": "content", "mountPath": "/var/www/html", "subPath": "html"}
# The pods that mount the content volume (ReadWriteOnce), by kind and name.
CONTENT_PODS = (
    ("Deployment", "store-acme-wordpress"),
    ("Job", "store-acme-setup"),
    ("CronJob", "store-acme-cron"),
)

# --- helpers -------------------------------------------------------------------


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict], kind: str, name: str) -> dict:
    found = [obj for obj in objects if obj["kind"] == kind and obj["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def _template_with(helm, values_file, setting: str):
    """`helm template` with one `--set`, as a completed process (for refusals)."""
    return run_helm(helm, "template", RELEASE, str(CHART_DIR), "-f", str(values_file), "--set", setting)


def pod_templates(objects: list[dict]) -> list[tuple[dict, dict]]:
    """(workload, pod template) for every workload that creates pods (a CronJob's
    is its jobTemplate's)."""
    return [(obj, obj["spec"]["template"]) for obj in workloads(objects)]


def images(objects: list[dict]) -> list[str]:
    """The image of every pod's main container (its init container uses the same one)."""
    return [c["image"] for _, tpl in pod_templates(objects) for c in tpl["spec"]["containers"]]


def pod_spec(objects: list[dict], kind: str, name: str) -> dict:
    obj = one(objects, kind, name)
    spec = obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"]
    return spec["template"]["spec"]


def env_of(container: dict) -> dict[str, dict]:
    return {item["name"]: item for item in container.get("env", [])}


@pytest.fixture(scope="module")
def objects(helm, platform_values_file) -> list[dict]:
    return render(helm, platform_values_file)


@pytest.fixture(scope="module")
def k3s_objects(helm, platform_values_file) -> list[dict]:
    return render(helm, platform_values_file, "-f", str(CHART_DIR / "values-k3s.yaml"))


# --- lint ----------------------------------------------------------------------


def test_lint_reports_the_missing_store_values(helm):
    # helm lint reports missing `required` values (as INFO); rendering fails on them.
    result = run_helm(helm, "lint", "--strict", str(CHART_DIR))
    output = result.stdout + result.stderr
    assert "store.host is required" in output
    assert "store.url is required" in output


@pytest.mark.parametrize("missing", ["host", "url"])
def test_template_requires_store_host_and_url(helm, tmp_path, missing):
    values = {**PLATFORM_VALUES, "store": {k: v for k, v in STORE.items() if k != missing}}
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    result = run_helm(helm, "template", RELEASE, str(CHART_DIR), "-f", str(path))
    assert result.returncode != 0
    assert f"store.{missing} is required" in result.stderr


def test_long_release_names_are_refused(helm, platform_values_file):
    result = run_helm(helm, "template", "store-" + "x" * 40, str(CHART_DIR), "-f", str(platform_values_file))
    assert result.returncode != 0
    assert "longer than 40 characters" in result.stderr


# --- rendered objects ----------------------------------------------------------


def test_renders_the_expected_objects(objects):
    names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}
    assert names == {
        ("ConfigMap", "store-acme-setup-script"),
        ("ConfigMap", "store-acme-wordpress-php"),
        ("ConfigMap", "store-acme-wordpress-mu-plugins"),
        ("PersistentVolumeClaim", "store-acme-wordpress"),
        ("Service", "store-acme-mariadb"),
        ("Service", "store-acme-mariadb-headless"),
        ("Service", "store-acme-wordpress"),
        ("Deployment", "store-acme-wordpress"),
        ("StatefulSet", "store-acme-mariadb"),
        ("Job", "store-acme-setup"),
        ("CronJob", "store-acme-cron"),
        ("Ingress", "store-acme"),
        ("NetworkPolicy", "store-acme-mariadb"),
        ("NetworkPolicy", "store-acme-wordpress"),
        ("NetworkPolicy", "store-acme-setup"),
        ("NetworkPolicy", "store-acme-cron"),
    }


def test_every_object_has_the_standard_labels(objects):
    for obj in objects:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "woocommerce"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"].startswith("woocommerce-")
        assert labels["app.kubernetes.io/component"] in {"wordpress", "mariadb", "setup", "cron"}


def test_ingress_uses_the_store_host_and_class(objects):
    ingress = one(objects, "Ingress", "store-acme")
    spec = ingress["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert [rule["host"] for rule in spec["rules"]] == [STORE["host"]]
    backend = spec["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "store-acme-wordpress", "port": {"name": "http"}}
    assert "tls" not in spec
    assert "cert-manager.io/cluster-issuer" not in (ingress["metadata"].get("annotations") or {})


def test_k3s_values_enable_traefik_tls_and_local_path(k3s_objects):
    ingress = one(k3s_objects, "Ingress", "store-acme")
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [{"hosts": [STORE["host"]], "secretName": "store-acme-tls"}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    pvc = one(k3s_objects, "PersistentVolumeClaim", "store-acme-wordpress")
    assert pvc["spec"]["storageClassName"] == "local-path"
    sts = one(k3s_objects, "StatefulSet", "store-acme-mariadb")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "local-path"


def test_ingress_annotations_and_disabling(helm, platform_values_file):
    objects = render(helm, platform_values_file, "--set", "ingress.annotations.example\\.com/a=b")
    assert one(objects, "Ingress", "store-acme")["metadata"]["annotations"] == {
        "example.com/a": "b",
        "nginx.ingress.kubernetes.io/proxy-body-size": "32m",
    }
    objects = render(helm, platform_values_file, "--set", "ingress.enabled=false")
    assert not by_kind(objects, "Ingress")


def test_the_ingress_lets_product_photos_through(objects, helm, platform_values_file):
    # ingress-nginx refuses bodies over 1m by default: most photos.
    annotations = one(objects, "Ingress", "store-acme")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "32m"
    objects = render(helm, platform_values_file, "--set", "ingress.maxBodySize=64m")
    annotations = one(objects, "Ingress", "store-acme")["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == "64m"


def _php_ini(objects) -> dict[str, str]:
    text = one(objects, "ConfigMap", "store-acme-wordpress-php")["data"]["store.ini"]
    return dict(line.split(" = ") for line in text.splitlines())


def test_php_takes_uploads_of_32m_and_has_256m(objects):
    # The official image's PHP defaults: 2M uploads, 8M posts, 128M memory.
    assert _php_ini(objects) == {"upload_max_filesize": "32M", "post_max_size": "32M", "memory_limit": "256M"}
    deployment = one(objects, "Deployment", "store-acme-wordpress")
    pod = deployment["spec"]["template"]["spec"]
    (wordpress,) = pod["containers"]
    mount = {m["name"]: m for m in wordpress["volumeMounts"]}["php-ini"]
    # Where the official image's PHP reads extra ini files; sorted last, so it wins.
    assert mount == {
        "name": "php-ini",
        "mountPath": "/usr/local/etc/php/conf.d/zz-store.ini",
        "subPath": "store.ini",
        "readOnly": True,
    }
    volume = {v["name"]: v for v in pod["volumes"]}["php-ini"]
    assert volume == {"name": "php-ini", "configMap": {"name": "store-acme-wordpress-php"}}


def test_a_changed_php_limit_restarts_wordpress(objects, helm, platform_values_file):
    def ini_annotation(rendered):
        template = one(rendered, "Deployment", "store-acme-wordpress")["spec"]["template"]
        return template["metadata"]["annotations"]["store-provisioner.io/php-ini"]

    changed = render(helm, platform_values_file, "--set", "wordpress.php.uploadMaxFilesize=64M")
    assert _php_ini(changed)["upload_max_filesize"] == "64M"
    assert ini_annotation(changed) != ini_annotation(objects)
    assert ini_annotation(render(helm, platform_values_file)) == ini_annotation(objects)


@pytest.mark.parametrize("value", ["32 MB", "32M; disable_functions=", "-1"])
def test_php_limits_that_are_not_sizes_are_refused(helm, platform_values_file, value):
    result = _template_with(helm, platform_values_file, f"wordpress.php.postMaxSize={value}")
    assert result.returncode != 0
    assert "postMaxSize" in result.stderr


def test_storage_class_dash_means_none(helm, platform_values_file):
    objects = render(helm, platform_values_file, "--set", "persistence.storageClass=-")
    assert one(objects, "PersistentVolumeClaim", "store-acme-wordpress")["spec"]["storageClassName"] == ""
    sts = one(objects, "StatefulSet", "store-acme-mariadb")
    assert sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == ""


def test_default_storage_class_is_left_to_the_cluster(objects):
    pvc = one(objects, "PersistentVolumeClaim", "store-acme-wordpress")
    assert "storageClassName" not in pvc["spec"]
    assert pvc["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "2Gi"


def test_it_runs_one_pod_of_each_and_leaves_room_for_one_more(objects):
    # A Recreate rollout never runs two WordPress pods; the memory the pods request
    # (a cron run's too) leaves room for one more pod anyway. An init container
    # asks for no more than its pod's container, and runs before it.
    requested = 0.0
    for obj, template in pod_templates(objects):
        assert obj["spec"].get("replicas", obj["spec"].get("parallelism", 1)) == 1
        spec = template["spec"]
        main = sum(quantity(c["resources"]["requests"]["memory"]) for c in spec["containers"])
        for init in spec.get("initContainers", []):
            assert quantity(init["resources"]["requests"]["memory"]) <= main
        requested += main
    assert requested <= quantity(guardrails(WOOCOMMERCE).quota["requests.memory"]) / 2


# --- images --------------------------------------------------------------------


def test_images_are_official_and_pinned(objects):
    refs = images(objects)
    assert len(refs) == 4
    assert set(images(objects)) == {c["image"] for _, t in pod_templates(objects) for c in containers(t["spec"])}
    for ref in refs:
        assert "bitnami" not in ref.lower()
        repository, _, tag = ref.rpartition(":")
        assert repository in {"docker.io/library/wordpress", "docker.io/library/mariadb"}, ref
        assert tag and tag != "latest", ref
    wordpress, mariadb, cli = (
        one(objects, "Deployment", "store-acme-wordpress"),
        one(objects, "StatefulSet", "store-acme-mariadb"),
        one(objects, "Job", "store-acme-setup"),
    )
    assert (
        pod_spec(objects, "CronJob", "store-acme-cron")["containers"][0]["image"]
        == cli["spec"]["template"]["spec"]["containers"][0]["image"]
    )
    tag = lambda obj: obj["spec"]["template"]["spec"]["containers"][0]["image"].rpartition(":")[2]  # noqa: E731
    assert re.fullmatch(r"\d+\.\d+\.\d+-php8\.3-apache", tag(wordpress))
    assert re.fullmatch(r"11\.\d+\.\d+", tag(mariadb))
    assert re.fullmatch(r"cli-\d+\.\d+\.\d+-php8\.3", tag(cli))


def test_images_are_overridable(helm, platform_values_file):
    objects = render(
        helm,
        platform_values_file,
        "--set",
        "wordpress.image.repository=registry.example/wp",
        "--set",
        "wordpress.image.tag=6.9.3-php8.3-apache",
        "--set",
        "mariadb.image.tag=11.8.8",
        "--set",
        "cli.image.repository=registry.example/wp",
        "--set",
        "cli.image.tag=cli-2.12.0-php8.3",
    )
    assert sorted(images(objects)) == [
        "docker.io/library/mariadb:11.8.8",
        "registry.example/wp:6.9.3-php8.3-apache",
        "registry.example/wp:cli-2.12.0-php8.3",
        "registry.example/wp:cli-2.12.0-php8.3",
    ]


@pytest.mark.parametrize("component", ["wordpress", "mariadb", "cli"])
def test_latest_tags_are_refused(helm, platform_values_file, component):
    result = _template_with(helm, platform_values_file, f"{component}.image.tag=latest")
    assert result.returncode != 0


# --- pod security --------------------------------------------------------------


def test_wordpress_can_bind_port_80_unprivileged(objects):
    spec = one(objects, "Deployment", "store-acme-wordpress")["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 33
    assert {"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"} in spec["securityContext"]["sysctls"]
    assert spec["containers"][0]["ports"][0]["containerPort"] == 80


# --- workloads -----------------------------------------------------------------


def test_wordpress_deployment(objects):
    deployment = one(objects, "Deployment", "store-acme-wordpress")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    spec = deployment["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["readinessProbe"] and container["livenessProbe"]
    env = env_of(container)
    assert env["WORDPRESS_DB_HOST"]["value"] == "store-acme-mariadb"
    assert env["WORDPRESS_DB_NAME"]["value"] == "wordpress"
    assert env["WORDPRESS_DB_USER"]["value"] == "wordpress"
    assert env["WORDPRESS_DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "store-secret", "key": "db-password"}
    assert CONTENT_MOUNT in container["volumeMounts"]
    assert {"name": "content", "persistentVolumeClaim": {"claimName": "store-acme-wordpress"}} in spec["volumes"]


def test_mariadb_statefulset(objects):
    sts = one(objects, "StatefulSet", "store-acme-mariadb")
    assert sts["spec"]["replicas"] == 1
    assert sts["spec"]["serviceName"] == "store-acme-mariadb-headless"
    claim = sts["spec"]["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == "2Gi"
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert {"name": claim["metadata"]["name"], "mountPath": "/var/lib/mysql"} in container["volumeMounts"]
    ready = container["readinessProbe"]["exec"]["command"]
    assert ready == ["healthcheck.sh", "--connect", "--innodb_initialized"]
    assert container["livenessProbe"]["exec"]["command"][0] == "healthcheck.sh"
    env = env_of(container)
    assert env["MARIADB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "store-secret", "key": "db-password"}
    assert env["MARIADB_ROOT_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "store-secret",
        "key": "db-root-password",
    }
    assert env["MARIADB_DATABASE"]["value"] == "wordpress"
    assert env["MARIADB_USER"]["value"] == "wordpress"
    headless = one(objects, "Service", "store-acme-mariadb-headless")
    assert headless["spec"]["clusterIP"] == "None"
    service = one(objects, "Service", "store-acme-mariadb")
    assert service["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]


def test_services_select_their_pods(objects):
    wordpress = one(objects, "Deployment", "store-acme-wordpress")
    service = one(objects, "Service", "store-acme-wordpress")
    labels = wordpress["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert wordpress["spec"]["selector"]["matchLabels"].items() <= labels.items()


# --- setup Job -----------------------------------------------------------------


def test_setup_job(objects):
    job = one(objects, "Job", "store-acme-setup")
    assert job["spec"]["backoffLimit"] == 4
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    assert spec["securityContext"]["runAsUser"] == 33
    assert spec["securityContext"]["runAsGroup"] == 33
    assert spec["securityContext"]["fsGroup"] == 33
    assert spec["securityContext"]["runAsNonRoot"] is True


def test_setup_job_mounts_wordpress_content(objects):
    spec = pod_spec(objects, "Job", "store-acme-setup")
    assert CONTENT_MOUNT in spec["containers"][0]["volumeMounts"]
    assert {"name": "content", "persistentVolumeClaim": {"claimName": "store-acme-wordpress"}} in spec["volumes"]


def test_setup_job_runs_the_shipped_script(objects):
    configmap = one(objects, "ConfigMap", "store-acme-setup-script")
    assert configmap["data"]["setup.sh"] == (CHART_DIR / "files" / "setup.sh").read_text()
    spec = one(objects, "Job", "store-acme-setup")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    script_volume = next(v for v in spec["volumes"] if "configMap" in v)
    assert script_volume["configMap"]["name"] == "store-acme-setup-script"
    mount = next(m for m in container["volumeMounts"] if m["name"] == script_volume["name"])
    assert container["command"] == ["/bin/sh", f"{mount['mountPath']}/setup.sh"]


def test_setup_job_environment(objects):
    container = one(objects, "Job", "store-acme-setup")["spec"]["template"]["spec"]["containers"][0]
    env = env_of(container)
    assert env["STORE_URL"]["value"] == STORE["url"]
    assert env["STORE_TITLE"]["value"] == STORE["name"]
    assert env["WP_PATH"]["value"] == "/var/www/html"
    assert env["WC_VERSION"]["value"] == "10.9.4"
    assert env["SAMPLE_PRODUCT_SKU"]["value"] == "SAMPLE-001"
    for name, key in {
        "WP_ADMIN_USER": "admin-user",
        "WP_ADMIN_PASSWORD": "admin-password",
        "WP_ADMIN_EMAIL": "admin-email",
        "WORDPRESS_DB_PASSWORD": "db-password",
    }.items():
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "store-secret", "key": key}
        assert "value" not in env[name]
    # Same database settings as WordPress (wp-config.php reads them at run time).
    wordpress = one(objects, "Deployment", "store-acme-wordpress")["spec"]["template"]["spec"]["containers"][0]
    for name in ("WORDPRESS_DB_HOST", "WORDPRESS_DB_NAME", "WORDPRESS_DB_USER", "WORDPRESS_DB_PASSWORD"):
        assert env[name] == env_of(wordpress)[name]


def test_setup_job_gets_the_shops_country_and_currency(objects, helm, platform_values_file):
    env = env_of(one(objects, "Job", "store-acme-setup")["spec"]["template"]["spec"]["containers"][0])
    shop = PLATFORM_VALUES.get("shop", {"country": "US", "currency": "USD"})  # the chart's defaults
    assert env["SHOP_COUNTRY"] == {"name": "SHOP_COUNTRY", "value": shop["country"]}
    assert env["SHOP_CURRENCY"] == {"name": "SHOP_CURRENCY", "value": shop["currency"]}
    german = render(helm, platform_values_file, "--set", "shop.country=DE", "--set", "shop.currency=EUR")
    env = env_of(one(german, "Job", "store-acme-setup")["spec"]["template"]["spec"]["containers"][0])
    assert env["SHOP_COUNTRY"]["value"] == "DE"
    assert env["SHOP_CURRENCY"]["value"] == "EUR"


@pytest.mark.parametrize(
    "setting",
    [
        "shop.country=germany",
        "shop.country=de",
        "shop.country=DEU",
        "shop.country=",
        "shop.currency=eur",
        "shop.currency=EURO",
        "shop.currency=€",
        "shop.region=EU",
    ],
)
def test_malformed_shop_values_are_refused(helm, platform_values_file, setting):
    result = _template_with(helm, platform_values_file, setting)
    assert result.returncode != 0
    assert "/shop" in result.stderr, result.stderr


def test_setup_job_pod_template_survives_a_chart_version_bump(helm, platform_values_file, tmp_path, objects):
    # A Job's pod template is immutable: a new chart version alone must not change it.
    bumped = tmp_path / "woocommerce"
    shutil.copytree(CHART_DIR, bumped)
    chart = yaml.safe_load((bumped / "Chart.yaml").read_text())
    chart["version"], chart["appVersion"] = "9.9.9", "9.9.9"
    (bumped / "Chart.yaml").write_text(yaml.safe_dump(chart))
    result = run_helm(helm, "template", RELEASE, str(bumped), "-n", NAMESPACE, "-f", str(platform_values_file))
    assert result.returncode == 0, result.stderr
    new_job = one([d for d in yaml.safe_load_all(result.stdout) if d], "Job", "store-acme-setup")
    old_job = one(objects, "Job", "store-acme-setup")
    assert new_job["metadata"]["labels"] != old_job["metadata"]["labels"]
    assert new_job["spec"] == old_job["spec"]


def test_setup_job_values(helm, platform_values_file):
    objects = render(
        helm,
        platform_values_file,
        "--set",
        "setup.backoffLimit=2",
        "--set",
        "setup.ttlSecondsAfterFinished=600",
        "--set-string",
        "woocommerce.version=10.8.1",
        "--set",
        "existingSecret=other-secret",
        "--set",
        "store.url=https://shop.example.com/",
    )
    job = one(objects, "Job", "store-acme-setup")
    assert job["spec"]["backoffLimit"] == 2
    assert job["spec"]["ttlSecondsAfterFinished"] == 600
    env = env_of(job["spec"]["template"]["spec"]["containers"][0])
    assert env["WC_VERSION"]["value"] == "10.8.1"
    assert env["STORE_URL"]["value"] == "https://shop.example.com"
    assert env["WP_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "other-secret"
    assert "ttlSecondsAfterFinished" not in one(render(helm, platform_values_file), "Job", "store-acme-setup")["spec"]


def test_pod_annotations(helm, platform_values_file):
    objects = render(
        helm,
        platform_values_file,
        "--set",
        "podAnnotations.example\\.com/everywhere=yes",
        "--set",
        "setup.podAnnotations.example\\.com/setup-only=yes",
    )
    for obj, template in pod_templates(objects):
        annotations = template["metadata"].get("annotations") or {}
        assert annotations.get("example.com/everywhere") == "yes"
        expected = "yes" if obj["kind"] == "Job" else None
        assert annotations.get("example.com/setup-only") == expected
    # Not on the workload objects themselves.
    for obj, _ in pod_templates(objects):
        assert "example.com/everywhere" not in (obj["metadata"].get("annotations") or {})


def test_chart_files_exist():
    for name in ("Chart.yaml", "values.yaml", "values-kind.yaml", "values-k3s.yaml", "README.md", "files/setup.sh"):
        assert (CHART_DIR / name).is_file(), name
    assert (CHART_DIR / "values.schema.json").is_file()


# --- first start ---------------------------------------------------------------
#
# The official wordpress image's entrypoint, run as uid 33 (not root), copies
# WordPress into its working directory /var/www/html with tar --no-overwrite-dir,
# and tar then sets that directory's mode, which only its owner may do. A
# volume's root belongs to root (local-path: 0777 root:root; with fsGroup: 2775
# root:33), so the first start failed with "tar: .: Cannot change mode to
# rwxrwxrwx: Operation not permitted" and the pod restarted once.


def _content_dir_init(spec: dict) -> dict:
    (init,) = [c for c in spec.get("initContainers", []) if c["name"] == "content-dir"]
    return init


def _content_dir_script(spec: dict) -> str:
    init = _content_dir_init(spec)
    assert init["command"][:2] == ["/bin/sh", "-c"]
    return init["command"][2]


@pytest.mark.parametrize(("kind", "name"), CONTENT_PODS)
def test_wordpress_lives_in_a_directory_uid_33_made_not_in_the_volume_root(objects, kind, name):
    spec = pod_spec(objects, kind, name)
    # Every container that mounts the content mounts its html/ directory...
    mounts = [m for c in spec["containers"] for m in c["volumeMounts"] if m["name"] == "content"]
    assert mounts and all(m == CONTENT_MOUNT for m in mounts), mounts
    # ...made first by an init container of the pod as its own user (uid 33, not
    # root): the kubelet would make a missing subPath directory itself, as root.
    init = _content_dir_init(spec)
    assert spec["initContainers"][0] is init
    assert init["volumeMounts"] == [{"name": "content", "mountPath": "/volume"}]
    assert "mkdir -p html" in _content_dir_script(spec)
    assert spec["securityContext"]["runAsUser"] == 33 and spec["securityContext"]["runAsNonRoot"] is True
    assert "runAsUser" not in (init.get("securityContext") or {})
    assert init["securityContext"]["allowPrivilegeEscalation"] is False
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert init["securityContext"]["readOnlyRootFilesystem"] is True


def _run_content_dir(script: str, volume) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/sh", "-c", script.replace("cd /volume", f"cd '{volume}'")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_the_content_directory_is_made_once_by_its_user(objects, tmp_path):
    script = _content_dir_script(pod_spec(objects, "Deployment", "store-acme-wordpress"))
    volume = tmp_path / "volume"
    (volume / "lost+found").mkdir(parents=True)
    for _ in range(2):
        result = _run_content_dir(script, volume)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in volume.iterdir()) == ["html", "lost+found"]
    assert (volume / "html").stat().st_uid == os.geteuid()
    assert not list((volume / "html").iterdir())


def test_a_store_made_before_keeps_its_content(objects, tmp_path):
    # WordPress's content moves from the volume's root into html/, once, by the
    # WordPress pod only (the setup and cron pods only make the directory).
    script = _content_dir_script(pod_spec(objects, "Deployment", "store-acme-wordpress"))
    volume = tmp_path / "volume"
    (volume / "wp-content" / "uploads").mkdir(parents=True)
    (volume / "lost+found").mkdir()
    for name in ("index.php", "wp-config.php", ".htaccess"):
        (volume / name).write_text(name)
    for _ in range(2):
        result = _run_content_dir(script, volume)
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in volume.iterdir()) == ["html", "lost+found"]
    assert sorted(p.name for p in (volume / "html").iterdir()) == [
        ".htaccess",
        "index.php",
        "wp-config.php",
        "wp-content",
    ]
    assert (volume / "html" / "wp-content" / "uploads").is_dir()
    # A name in both places is not guessed at.
    (volume / "index.php").write_text("stray")
    result = _run_content_dir(script, volume)
    assert result.returncode != 0
    assert "both exist" in result.stderr
    for kind, name in CONTENT_PODS[1:]:
        assert "mv " not in _content_dir_script(pod_spec(objects, kind, name)), name


@pytest.mark.skipif(
    not (hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("setpriv")),
    reason="needs root to make a root-owned directory and setpriv to act as uid 33",
)
def test_the_entrypoints_copy_as_uid_33_fails_in_a_root_owned_root_and_succeeds_in_html(objects):
    # The image's copy, as uid 33: tar of /usr/src/wordpress extracted with
    # --no-overwrite-dir into the working directory. (pytest's tmp_path is
    # private to root: uid 33 could not reach it.)
    tmp_path = Path(tempfile.mkdtemp(prefix="content-dir-"))
    try:
        _copy_as_uid_33(objects, tmp_path)
    finally:
        shutil.rmtree(tmp_path)


def _copy_as_uid_33(objects, tmp_path: Path) -> None:
    source = tmp_path / "wordpress"
    (source / "wp-content").mkdir(parents=True)
    (source / "index.php").write_text("<?php")
    volume = tmp_path / "volume"
    volume.mkdir()
    for path in (tmp_path, source, source / "wp-content", source / "index.php"):
        os.chown(path, 33 if path != tmp_path else 0, 33 if path != tmp_path else 0)
    tmp_path.chmod(0o755)
    volume.chmod(0o777)  # local-path's volume root: 0777 root:root
    as_33 = ["setpriv", "--reuid", "33", "--regid", "33", "--clear-groups"]
    copy = (
        f"tar --create --file - --directory '{source}' --owner 33 --group 33 . "
        "| tar --extract --file - --no-overwrite-dir"
    )

    def copy_into(workdir) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*as_33, "/bin/sh", "-c", copy], cwd=workdir, capture_output=True, text=True, timeout=30, check=False
        )

    failed = copy_into(volume)
    assert failed.returncode != 0
    assert "Cannot change mode to rwxrwxrwx" in failed.stderr
    for path in volume.iterdir():
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    script = _content_dir_script(pod_spec(objects, "Deployment", "store-acme-wordpress"))
    made = subprocess.run(
        [*as_33, "/bin/sh", "-c", script.replace("cd /volume", f"cd '{volume}'")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    html = volume / "html"
    assert html.stat().st_uid == 33 and stat.S_ISDIR(html.stat().st_mode)
    copied = copy_into(html)
    assert copied.returncode == 0, copied.stderr
    assert (html / "index.php").is_file()


# --- one node for the content volume -------------------------------------------
#
# The content volume is ReadWriteOnce: WordPress, the setup Job and the cron runs
# must share a node. The setup Job's pod used to require a node with the
# WordPress pod on it, and was created before that pod was placed (Helm creates
# everything at once; a Job's pod comes one controller hop sooner than a
# Deployment's), so the scheduler refused it once: a FailedScheduling warning on
# a healthy store. Now each of the three requires a node with a pod of the group
# on it, and matches the group itself: the scheduler lets the first pod of a group
# with affinity to itself go to any node, and the others follow it.


def _content_terms(spec: dict) -> list[dict]:
    return spec["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]


def _selects(selector: dict, labels: dict) -> bool:
    if not (selector.get("matchLabels") or {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions") or []:
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_the_pods_of_the_content_volume_share_a_node_and_the_first_one_placed_is_not_refused(objects):
    labels = {}
    for kind, name in CONTENT_PODS:
        obj = one(objects, kind, name)
        template = (obj["spec"]["jobTemplate"]["spec"] if kind == "CronJob" else obj["spec"])["template"]
        labels[name] = template["metadata"]["labels"]
    terms = {name: _content_terms(pod_spec(objects, kind, name)) for kind, name in CONTENT_PODS}
    (term,) = terms["store-acme-wordpress"]
    assert all(t == [term] for t in terms.values()), terms
    assert term["topologyKey"] == "kubernetes.io/hostname"
    # The term selects every pod of the group, each pod itself included...
    for name, pod_labels in labels.items():
        assert _selects(term["labelSelector"], pod_labels), name
    # ...and nothing else: not MariaDB, not another store's pods.
    mariadb = one(objects, "StatefulSet", "store-acme-mariadb")["spec"]["template"]
    assert not _selects(term["labelSelector"], mariadb["metadata"]["labels"])
    assert "affinity" not in mariadb["spec"]
    other_store = {**labels["store-acme-wordpress"], "app.kubernetes.io/instance": "store-other"}
    assert not _selects(term["labelSelector"], other_store)
    assert "namespaces" not in term and "namespaceSelector" not in term


def test_the_operators_pod_affinity_is_kept_beside_the_content_term(helm, platform_values_file, objects):
    operator_term = {
        "topologyKey": "topology.kubernetes.io/zone",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": RELEASE}},
    }
    affinity = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [operator_term]}}
    rendered = render(helm, platform_values_file, "--set-json", f"affinity={json.dumps(affinity)}")
    (content_term,) = _content_terms(pod_spec(objects, "Deployment", "store-acme-wordpress"))
    for kind, name in CONTENT_PODS:
        assert _content_terms(pod_spec(rendered, kind, name)) == [operator_term, content_term], name
    assert _content_terms(pod_spec(rendered, "StatefulSet", "store-acme-mariadb")) == [operator_term]


# --- scheduled work (WP-Cron) --------------------------------------------------


def test_wp_cron_runs_on_a_schedule_not_in_visitors_requests(objects):
    cronjob = one(objects, "CronJob", "store-acme-cron")
    assert cronjob["spec"]["schedule"] == "*/5 * * * *"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert 10 <= cronjob["spec"]["startingDeadlineSeconds"] <= 300
    assert cronjob["spec"]["successfulJobsHistoryLimit"] <= 3
    assert cronjob["spec"]["failedJobsHistoryLimit"] <= 3
    assert cronjob["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] <= 300 * 2
    spec = pod_spec(objects, "CronJob", "store-acme-cron")
    (container,) = spec["containers"]
    script = " ".join(container["command"])
    assert "wp --path=/var/www/html cron event run --due-now" in script
    # Not before the setup Job has installed WordPress: a failed run would be a warning.
    assert "core is-installed" in script
    # WP-Cron is off in requests (and in wp-cli's own commands) wherever wp-config.php is read.
    for kind, name in CONTENT_PODS:
        env = env_of(pod_spec(objects, kind, name)["containers"][0])
        assert "define( 'DISABLE_WP_CRON', true );" in env["WORDPRESS_CONFIG_EXTRA"]["value"].splitlines(), name


def test_a_cron_run_is_a_setup_like_wp_cli_pod_beside_wordpress(objects):
    setup = pod_spec(objects, "Job", "store-acme-setup")
    cron = pod_spec(objects, "CronJob", "store-acme-cron")
    assert cron["restartPolicy"] == "Never"
    assert cron["automountServiceAccountToken"] is False
    assert cron["securityContext"] == setup["securityContext"]
    assert cron["containers"][0]["securityContext"] == setup["containers"][0]["securityContext"]
    assert cron["containers"][0]["image"] == setup["containers"][0]["image"]
    assert _content_dir_init(cron)["securityContext"] == setup["containers"][0]["securityContext"]
    assert cron["containers"][0]["resources"] == {
        "requests": {"cpu": "50m", "memory": "128Mi", "ephemeral-storage": "32Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi", "ephemeral-storage": "128Mi"},
    }
    assert {"name": "content", "persistentVolumeClaim": {"claimName": "store-acme-wordpress"}} in cron["volumes"]
    env = env_of(cron["containers"][0])
    for name in ("WORDPRESS_DB_HOST", "WORDPRESS_DB_NAME", "WORDPRESS_DB_USER", "WORDPRESS_DB_PASSWORD"):
        assert env[name] == env_of(setup["containers"][0])[name]
    labels = one(objects, "CronJob", "store-acme-cron")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert labels["store-provisioner.io/egress"] == "internet"
    assert "store-provisioner.io/ingress" not in labels


@pytest.mark.parametrize("schedule", ["*/15 * * * *", "@hourly"])
def test_cron_schedule(helm, platform_values_file, schedule):
    objects = render(helm, platform_values_file, "--set", f"cron.schedule={schedule}")
    assert one(objects, "CronJob", "store-acme-cron")["spec"]["schedule"] == schedule


def test_cron_values(helm, platform_values_file):
    objects = render(helm, platform_values_file, "--set", "cron.enabled=false")
    assert not by_kind(objects, "CronJob")
    # WP-Cron runs in requests again.
    for kind, name in CONTENT_PODS[:2]:
        extra = env_of(pod_spec(objects, kind, name)["containers"][0])["WORDPRESS_CONFIG_EXTRA"]["value"]
        assert "DISABLE_WP_CRON" not in extra, name
    refused = _template_with(helm, platform_values_file, "cron.shedule=*/5 * * * *")
    assert refused.returncode != 0
    assert "shedule" in refused.stderr
