"""What is particular to charts/medusa, rendered with helm (no cluster needed).

The chart is rendered with the values the platform passes (built by the
MedusaJS engine) and each values profile. The recipe under files/ (the
project, setup.sh, start-server.sh, the storefront) is rendered as it is;
the tests that need a recipe with a nested tree and a large lockfile copy
the chart to a temporary directory and add stand-in files there. The engine
contract (placement, schema, labels, resources, guardrails, pins, kube-score,
secret keys, lint) is held for every engine by tests/engines/.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from stores.engines.contract import RELEASE_NAME, release_values
from stores.engines.medusa import MEDUSA
from tests.chart_tools import REPO_ROOT, run_helm, template
from tests.charts.medusa_recipe_support import NODE_VERSION
from tests.charts.official_images import LIBRARY_TAGS
from tests.engines.support import SPEC, containers

CHART_DIR = REPO_ROOT / "charts" / "medusa"
RELEASE = NAMESPACE = RELEASE_NAME
PROFILES = [None, "values-kind.yaml", "values-k3s.yaml"]
COMPONENTS = {"server", "worker", "storefront", "setup", "postgres", "redis"}
# The fallback: the official node image, the project installed at first start.
FALLBACK = [
    "--set",
    "image.repository=docker.io/library/node",
    "--set",
    "image.tag=22.23.2-bookworm-slim",
    "--set",
    "image.prebuilt=false",
]

CONFIGMAP_LIMIT = 1024 * 1024


def platform_values(**spec) -> dict:
    return MEDUSA.build_values(replace(SPEC, **spec))


@pytest.fixture(scope="module")
def values_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("medusa") / "platform-values.yaml"
    path.write_text(yaml.safe_dump(platform_values()))
    return path


def render(helm: str, values_file: Path, *extra: str, chart: Path = CHART_DIR) -> list[dict]:
    return template(helm, RELEASE, chart, "-n", NAMESPACE, "-f", str(values_file), *extra)


@pytest.fixture(scope="module")
def rendered(helm, values_file):
    """The chart with the platform's values and a profile, rendered once per profile."""
    cache: dict[str | None, list[dict]] = {}

    def of(profile: str | None = None) -> list[dict]:
        if profile not in cache:
            cache[profile] = render(helm, values_file, *profile_args(profile))
        return cache[profile]

    return of


@pytest.fixture(scope="module")
def fallback(helm, values_file):
    return render(helm, values_file, *FALLBACK)


def project_hash() -> str:
    """What localcluster/store-images.sh and the image tag call the project: a hash of files/
    without node_modules and the recipe's README.md."""
    files = CHART_DIR / "files"
    lines = []
    for path in sorted(
        (p for p in files.rglob("*") if p.is_file() and "node_modules" not in p.parts and p != files / "README.md"),
        key=lambda p: "./" + str(p.relative_to(files)),
    ):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  ./{path.relative_to(files)}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:12]


def profile_args(profile: str | None) -> list[str]:
    return ["-f", str(CHART_DIR / profile)] if profile else []


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    """component -> pod spec of every workload."""
    return {
        o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]: o["spec"]["template"]["spec"]
        for o in objects
        if o["kind"] in ("Deployment", "StatefulSet", "Job")
    }


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


# --- the objects --------------------------------------------------------------------


def test_it_renders_every_component(rendered):
    objects = rendered()
    assert set(pod_specs(objects)) == COMPONENTS
    assert set(by_kind(objects, "Deployment")) == {"store-medusa", "store-worker", "store-storefront", "store-redis"}
    assert set(by_kind(objects, "StatefulSet")) == {"store-postgres"}
    assert set(by_kind(objects, "Job")) == {"store-setup"}
    assert set(by_kind(objects, "PersistentVolumeClaim")) == {"store-app", "store-redis"}
    assert set(by_kind(objects, "Service")) >= {"store-medusa", "store-storefront", "store-postgres", "store-redis"}
    # The recipe is in the store image: no ConfigMaps of it.
    assert not by_kind(objects, "ConfigMap")


def test_volume_sharers_are_replaced_not_rolled(rendered):
    # Two pods never mount a ReadWriteOnce volume at once.
    for name, deployment in by_kind(rendered(), "Deployment").items():
        assert deployment["spec"]["strategy"] == {"type": "Recreate"}, name


def test_redis_persists_to_its_volume(rendered):
    redis = pod_specs(rendered())["redis"]
    (container,) = redis["containers"]
    args = container["args"]
    assert args[args.index("--appendonly") + 1] == "yes" and args[args.index("--dir") + 1] == "/data"
    (volume,) = redis["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == "store-redis"


def test_the_ingress_lets_uploads_through(rendered, helm, values_file):
    (ingress,) = by_kind(rendered(), "Ingress").values()
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "32m"
    objects = render(helm, values_file, "--set", "ingress.maxBodySize=64m")
    (ingress,) = by_kind(objects, "Ingress").values()
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-body-size"] == "64m"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_pod_runs_as_its_images_own_user_on_a_read_only_root(rendered, profile):
    # Beyond the restricted profile every engine meets (tests/engines/).
    for component, spec in pod_specs(rendered(profile)).items():
        # The node image's own user, and the database images' own users.
        expected_uid = 999 if component in ("postgres", "redis") else 1000
        assert spec["securityContext"]["runAsUser"] == expected_uid, component
        for container in containers(spec):
            context = container["securityContext"]
            assert context["privileged"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert context["readOnlyRootFilesystem"] is True, (component, container["name"])


@pytest.mark.parametrize("profile", PROFILES)
def test_every_long_running_container_has_probes(rendered, profile):
    specs = pod_specs(rendered(profile))
    for component in COMPONENTS - {"setup"}:
        (container,) = specs[component]["containers"]
        assert container.get("readinessProbe") and container.get("livenessProbe"), component
    for component in ("server", "worker"):
        container = specs[component]["containers"][0]
        assert container["readinessProbe"]["httpGet"]["path"] == "/health"
        # It waits for the setup (in the fallback, minutes on a cold cache) before it listens.
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 30 * 60
    storefront = specs["storefront"]["containers"][0]
    assert storefront["readinessProbe"]["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("profile", PROFILES)
def test_the_store_image_follows_the_project_and_the_rest_are_official(rendered, profile):
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    version = json.loads((CHART_DIR / "files" / "project" / "package.json").read_text())["dependencies"]
    # A changed project is a new image: its tag names the project's files.
    assert values["image"]["tag"] == f"{version['@medusajs/medusa']}-{project_hash()}"
    store_image = f"{values['image']['repository']}:{values['image']['tag']}"
    for component, spec in pod_specs(rendered(profile)).items():
        for container in containers(spec):
            assert container["imagePullPolicy"] == "IfNotPresent"
            if component in ("postgres", "redis"):
                repository, tag = container["image"].rsplit(":", 1)
                assert tag in LIBRARY_TAGS[repository.removeprefix("docker.io/library/")], container["image"]
            else:
                assert container["image"] == store_image, component


def test_a_registry_image_is_pinned_by_its_digest(helm, values_file):
    digest = "sha256:" + "a" * 64
    objects = render(
        helm,
        values_file,
        "--set",
        "image.repository=registry.example.org/acme/medusa",
        "--set",
        "image.tag=2.21.2-1",
        "--set",
        f"image.digest={digest}",
    )
    for component in ("setup", "server", "worker", "storefront"):
        assert (
            pod_specs(objects)[component]["containers"][0]["image"]
            == f"registry.example.org/acme/medusa:2.21.2-1@{digest}"
        )


def test_it_refuses_an_unpinned_image(helm, values_file):
    result = run_helm(
        helm, "template", RELEASE, str(CHART_DIR), "-f", str(values_file), "--set", "redis.image.tag=latest"
    )
    assert result.returncode != 0
    # The values schema refuses it before a template does.
    assert "/redis/image/tag" in result.stderr


# --- the programs --------------------------------------------------------------------


def test_it_gives_each_program_the_contracts_environment(rendered, fallback):
    specs = pod_specs(rendered())
    shared = {
        "APP_DIR",
        "DATABASE_URL",
        "REDIS_URL",
        "STORE_URL",
        "STORE_NAME",
        "UPLOAD_DIR",
        "JWT_SECRET",
        "COOKIE_SECRET",
        "MEDUSA_DISABLE_TELEMETRY",
    }
    setup = env_of(specs["setup"]["containers"][0])
    assert shared | {"MEDUSA_ADMIN_EMAIL", "MEDUSA_ADMIN_PASSWORD", "NODE_OPTIONS"} <= set(setup)
    assert setup["APP_DIR"]["value"] == "/opt/medusa" and setup["UPLOAD_DIR"]["value"] == "/data/uploads"
    assert setup["STORE_URL"]["value"] == "http://store-acme.127.0.0.1.nip.io"
    # The store's own PostgreSQL serves no TLS (the official image does not): Medusa must not ask for it.
    assert (
        setup["DATABASE_URL"]["value"] == "postgres://medusa:$(DB_PASSWORD)@store-postgres:5432/medusa?sslmode=disable"
    )
    assert setup["REDIS_URL"]["value"] == "redis://store-redis:6379"
    assert setup["MEDUSA_DISABLE_TELEMETRY"]["value"] == "true"
    for role in ("server", "worker"):
        env = env_of(specs[role]["containers"][0])
        assert shared | {"PORT"} <= set(env) and env["PORT"]["value"] == "9000"
        # One image, two roles (Medusa's worker mode).
        assert env["MEDUSA_WORKER_MODE"]["value"] == role
        # It waits for the setup as long as the setup Job may run.
        job = next(d for d in rendered() if d["kind"] == "Job")
        assert env["SETUP_WAIT_SECONDS"]["value"] == str(job["spec"]["activeDeadlineSeconds"])
    storefront = env_of(specs["storefront"]["containers"][0])
    assert storefront["MEDUSA_BACKEND_URL"]["value"] == "http://store-medusa:9000"
    assert storefront["PORT"]["value"] == "8000" and storefront["APP_DIR"]["value"] == "/opt/medusa"
    # The recipe's scripts, in one tree (in the image, or mounted in the fallback).
    assert specs["setup"]["containers"][0]["command"] == ["/bin/sh", "/opt/medusa-recipe/setup.sh"]
    assert specs["server"]["containers"][0]["command"] == ["/bin/sh", "/opt/medusa-recipe/start-server.sh"]
    assert specs["worker"]["containers"][0]["command"] == ["/bin/sh", "/opt/medusa-recipe/start-server.sh"]
    assert specs["storefront"]["containers"][0]["command"] == ["node", "/opt/medusa-recipe/storefront/server.js"]
    # The fallback installs into the app volume.
    fallback_setup = env_of(pod_specs(fallback)["setup"]["containers"][0])
    assert fallback_setup["APP_DIR"]["value"] == "/data/app"
    assert fallback_setup["NPM_CACHE_DIR"]["value"] == "/data/npm-cache"


def test_the_setup_gets_the_shops_country_and_currency(helm, tmp_path):
    values = tmp_path / "de-eur.yaml"
    values.write_text(yaml.safe_dump(platform_values(country="DE", currency="EUR")))

    specs = pod_specs(render(helm, values))

    setup = env_of(specs["setup"]["containers"][0])
    assert (setup["SHOP_COUNTRY"]["value"], setup["SHOP_CURRENCY"]["value"]) == ("DE", "EUR")
    # Only the seed reads them: a later change restarts no server.
    for role in ("server", "worker", "storefront"):
        assert not {"SHOP_COUNTRY", "SHOP_CURRENCY"} & set(env_of(specs[role]["containers"][0])), role


def test_without_shop_values_the_chart_sets_a_shop_up_in_the_united_states(helm, tmp_path):
    values = tmp_path / "no-shop.yaml"
    values.write_text(yaml.safe_dump(release_values(SPEC)))

    specs = pod_specs(render(helm, values))

    setup = env_of(specs["setup"]["containers"][0])
    assert (setup["SHOP_COUNTRY"]["value"], setup["SHOP_CURRENCY"]["value"]) == ("US", "USD")


@pytest.mark.parametrize(
    ("value", "path"),
    [("shop.country=de", "/shop/country"), ("shop.currency=EURO", "/shop/currency"), ("shop.region=eu", "/shop")],
)
def test_it_refuses_a_country_or_currency_that_is_no_code(helm, values_file, value, path):
    result = run_helm(helm, "template", RELEASE, str(CHART_DIR), "-f", str(values_file), "--set", value)
    assert result.returncode != 0
    assert path in result.stderr


def test_the_stores_files_are_on_its_volume(rendered):
    specs = pod_specs(rendered())
    for component in ("setup", "server", "worker"):
        mounts = {m["mountPath"]: m for m in specs[component]["containers"][0]["volumeMounts"] if m["name"] == "app"}
        assert mounts["/opt/medusa/state"]["subPath"] == "state"
        assert mounts["/data/uploads"]["subPath"] == "uploads"
    (mount,) = [m for m in specs["storefront"]["containers"][0]["volumeMounts"] if m["name"] == "app"]
    assert (mount["mountPath"], mount["subPath"], mount["readOnly"]) == ("/opt/medusa/state", "state", True)


def test_it_routes_the_medusa_paths_to_the_server_and_the_rest_to_the_storefront(rendered):
    (ingress,) = by_kind(rendered(), "Ingress").values()
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "store-acme.127.0.0.1.nip.io"
    routes = {p["path"]: (p["pathType"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]}
    assert routes == {
        **dict.fromkeys(("/app", "/admin", "/auth", "/store", "/health", "/static"), ("Prefix", "store-medusa")),
        "/": ("Prefix", "store-storefront"),
    }
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert MEDUSA.admin_path.rstrip("/") in routes


def test_it_serves_tls_with_the_k3s_profile(helm, tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(platform_values(ingress_class="traefik", tls_cluster_issuer="")))
    objects = template(helm, RELEASE, CHART_DIR, "-n", NAMESPACE, *profile_args("values-k3s.yaml"), "-f", str(values))
    (ingress,) = by_kind(objects, "Ingress").values()
    assert ingress["spec"]["ingressClassName"] == "traefik"
    assert ingress["spec"]["tls"] == [{"hosts": ["store-acme.127.0.0.1.nip.io"], "secretName": "store-tls"}]
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"


def test_the_platforms_issuer_wins_over_the_profiles(helm, tmp_path):
    # The platform passes the profile first and its own values last (stores.releases).
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(platform_values(ingress_class="traefik", tls_cluster_issuer="letsencrypt-staging"))
    )
    objects = template(helm, RELEASE, CHART_DIR, "-n", NAMESPACE, *profile_args("values-k3s.yaml"), "-f", str(values))
    (ingress,) = by_kind(objects, "Ingress").values()
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-staging"


def test_its_network_policies_open_only_the_stores_own_paths(rendered):
    policies = by_kind(rendered(), "NetworkPolicy")
    assert set(policies) == {
        "store-postgres",
        "store-redis",
        "store-medusa",
        "store-worker",
        "store-storefront",
        "store-setup",
    }

    def peers(rules):
        return {
            (p["podSelector"]["matchLabels"]["app.kubernetes.io/component"], port["port"])
            for rule in rules
            for p in rule.get("from", rule.get("to", []))
            for port in rule["ports"]
        }

    for name in ("store-postgres", "store-redis"):
        port = 5432 if name == "store-postgres" else 6379
        spec = policies[name]["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert peers(spec["ingress"]) == {("server", port), ("worker", port), ("setup", port)}
        assert spec["egress"] == []
    assert peers(policies["store-medusa"]["spec"]["ingress"]) == {("storefront", 9000)}
    assert peers(policies["store-medusa"]["spec"]["egress"]) == {("postgres", 5432), ("redis", 6379)}
    assert policies["store-worker"]["spec"]["ingress"] == []
    assert peers(policies["store-worker"]["spec"]["egress"]) == {("postgres", 5432), ("redis", 6379)}
    assert policies["store-storefront"]["spec"]["ingress"] == []
    assert peers(policies["store-storefront"]["spec"]["egress"]) == {("server", 9000)}
    assert policies["store-setup"]["spec"]["ingress"] == []
    assert peers(policies["store-setup"]["spec"]["egress"]) == {("postgres", 5432), ("redis", 6379)}


def test_the_volume_sharers_run_beside_the_server(rendered):
    specs = pod_specs(rendered())
    for component in ("worker", "setup", "storefront"):
        (term,) = specs[component]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"]["app.kubernetes.io/component"] == "server"
    assert "affinity" not in specs["server"]
    claims = {
        c: {v["persistentVolumeClaim"]["claimName"] for v in s.get("volumes", []) if "persistentVolumeClaim" in v}
        for c, s in specs.items()
    }
    assert claims["setup"] == claims["server"] == claims["worker"] == claims["storefront"] == {"store-app"}


def test_the_fallback_installs_with_room_above_the_builds_peak(fallback):
    # The build peaks at about 1.7 GB: the fallback's operator raises the setup's
    # limit above it (the engine raises its stores' LimitRange to admit 3Gi).
    setup = pod_specs(fallback)["setup"]
    assert env_of(setup["containers"][0])["NODE_OPTIONS"]["value"] == "--max-old-space-size=1536"
    # npm ci downloads the project: only the fallback's setup Job reaches the internet.
    labels = next(d for d in fallback if d["kind"] == "Job")["spec"]["template"]["metadata"]["labels"]
    assert labels["store-provisioner.io/egress"] == "internet"
    assert {"store-recipe"} <= set(by_kind(fallback, "ConfigMap"))


# --- the recipe files -------------------------------------------------------------


def test_every_configmap_fits_the_api_servers_limit(fallback):
    for name, configmap in by_kind(fallback, "ConfigMap").items():
        size = sum(len(v.encode()) for v in (configmap.get("data") or {}).values())
        assert size < CONFIGMAP_LIMIT, name


@pytest.fixture
def chart_with_recipe(tmp_path) -> tuple[Path, str]:
    """A copy of the chart with a stand-in recipe: a nested tree and a 2.5 MB lockfile."""
    chart = tmp_path / "medusa"
    shutil.copytree(CHART_DIR, chart, ignore=shutil.ignore_patterns("files"))
    files = chart / "files"
    for relative, text in {
        "setup.sh": "echo setup\n",
        "start-server.sh": "echo start\n",
        "project/package.json": "{}\n",
        "project/medusa-config.js": "module.exports = {}\n",
        "project/src/scripts/seed.ts": "export default async function seed() {}\n",
        "storefront/server.js": "// storefront\n",
        "storefront/style.css": "body {}\n",
        "project/node_modules/left/over.js": "installed locally, never shipped\n",
    }.items():
        (files / relative).parent.mkdir(parents=True, exist_ok=True)
        (files / relative).write_text(text)
    lockfile = (
        '{"packages": {' + ",".join(f'"node_modules/p{i}": {{"version": "1.0.{i}"}}' for i in range(60000)) + "}}\n"
    )
    (files / "project/package-lock.json").write_text(lockfile)
    return chart, lockfile


def test_it_ships_the_recipe_tree_and_splits_the_lockfile(helm, values_file, chart_with_recipe):
    chart, lockfile = chart_with_recipe
    objects = render(helm, values_file, *FALLBACK, chart=chart)
    configmaps = by_kind(objects, "ConfigMap")
    recipe = configmaps["store-recipe"]["data"]
    assert set(recipe) == {
        "setup.sh",
        "start-server.sh",
        "project__package.json",
        "project__medusa-config.js",
        "project__src__scripts__seed.ts",
        "storefront__server.js",
        "storefront__style.css",
    }
    parts = sorted(name for name in configmaps if name.startswith("store-lockfile-"))
    assert len(parts) > 1
    assert "".join(configmaps[p]["data"]["part"] for p in parts) == lockfile
    for name, configmap in configmaps.items():
        assert sum(len(v.encode()) for v in configmap["data"].values()) < CONFIGMAP_LIMIT, name

    setup = pod_specs(objects)["setup"]
    volumes = {v["name"]: v for v in setup["volumes"]}
    items = {i["key"]: i["path"] for i in volumes["recipe-src"]["configMap"]["items"]}
    assert items["storefront__server.js"] == "storefront/server.js"
    assert items["project__src__scripts__seed.ts"] == "project/src/scripts/seed.ts"
    sources = volumes["lockfile"]["projected"]["sources"]
    assert [s["configMap"]["name"] for s in sources] == parts
    assert [s["configMap"]["items"][0]["path"] for s in sources] == [f"part-{i:03d}" for i in range(len(parts))]
    # The init container puts the tree and the joined lockfile where setup.sh runs.
    (init,) = setup["initContainers"]
    script = init["command"][-1]
    assert "cat /opt/lockfile/part-* > /opt/medusa-recipe/project/package-lock.json" in script
    server_items = {v["name"]: v for v in pod_specs(objects)["server"]["volumes"]}["recipe"]["configMap"]["items"]
    assert {"key": "start-server.sh", "path": "start-server.sh"} in server_items


def test_the_image_recipe_builds_what_the_chart_runs(rendered):
    """The Dockerfile cannot be built here (no registry for its base image); what the chart
    relies on in the image it builds is read from it instead."""
    dockerfile = (CHART_DIR / "image" / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.splitlines() if line and not line.startswith(("#", " "))]
    (base,) = [rest for op, rest in instructions if op == "FROM"]
    repository, tag = base.rsplit(":", 1)
    # The official node image, at the Node.js version the recipe test runs.
    assert repository == "docker.io/library/node" and tag in LIBRARY_TAGS["node"]
    assert tag.split("-")[0] == NODE_VERSION
    # The chart's recipe, installed and built only: the store's setup Job does the database steps.
    assert ["COPY", "charts/medusa/files/ /opt/medusa-recipe/"] in instructions
    assert "APP_DIR=/opt/medusa" in dockerfile and "setup.sh --build-only" in dockerfile
    # Where the chart mounts the store's volume exists and belongs to the user the pods run as.
    assert "mkdir -p /opt/medusa/state /data/uploads" in dockerfile
    assert "chown node:node /opt/medusa/state /data/uploads" in dockerfile
    assert ["USER", "node"] in instructions
    specs = pod_specs(rendered())
    assert {
        spec["securityContext"]["runAsUser"] for name, spec in specs.items() if name not in ("postgres", "redis")
    } == {
        1000  # node's uid in the official image
    }
