"""A Medusa store, for real, on the real node: created through the platform,
provisioned by its real task workers from the store image, sold from with cash
on delivery in Chromium, backed up and restored (a later order gone), upgraded
to the project's next version, refused a rollback across a migration, deleted
without a trace but its final backup, and restored from it into a new store.

The images are built here (localcluster/store-images.sh): the Medusa store
image from the recipe's own build (the same project the chart's Dockerfile
bakes), its next version (the project with one more module and migration,
tests/realnode/medusa-upgrade), and stand-ins for the official postgres and
redis images, from Debian's packages behind those images' entrypoint
contracts. Everything reaches the store the way a shopper does: through the
ingress stand-in, by the store's host. Screenshots land in
artifacts/screenshots/medusa-node-*.png, figures in
artifacts/logs/medusa-node-figures.json.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import subprocess
import time
import urllib.request
import uuid
import zlib
from pathlib import Path

import pytest
import yaml
from django.core.management import call_command
from django.db import connection
from playwright.sync_api import expect, sync_playwright

from stores import credentials, lifecycle, tasks
from stores.engines.contract import COMPONENT_LABEL
from stores.models import Backup, EventCode, Status, Store, StoreEvent
from tests import medusa_shopper as shopper
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, screenshot
from tests.fixtures import REPO_ROOT, STATE_DIR
from tests.objectstore import running_object_store
from tests.platform import LOG_DIR, Platform
from tests.realnode.support import HOST_IP, INGRESS_PROXY, NODE_NAME, VALUES_FILE, VOLUMES_FILE
from tests.waiting import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

IMAGES = REPO_ROOT / "localcluster" / "store-images.sh"
NEXT_VERSION = Path(__file__).resolve().parent / "medusa-upgrade"
FIGURES = LOG_DIR / "medusa-node-figures.json"
# A product photo of over 2 MB (ingress-nginx refuses more than 1 MB unless told; the chart allows 32m).
PHOTO_SIZE = (1024, 720)


def _images(*args: str, overlay: Path | None = None) -> str:
    env = {**os.environ, "LOCALCLUSTER_DIR": str(STATE_DIR)}
    if overlay:
        env["MEDUSA_OVERLAY"] = str(overlay)
    result = subprocess.run(
        ["bash", str(IMAGES), *args], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=1800
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def _tags(overlay: Path | None = None) -> dict[str, str]:
    return dict(line.split("=", 1) for line in _images("tags", overlay=overlay).split())


@pytest.fixture(scope="module")
def store_images(real_node):
    """Both versions of the store image and the stand-ins, built (cached) and imported into the node."""
    started = time.monotonic()
    for overlay in (None, NEXT_VERSION):
        _images("build", overlay=overlay)
        _images("import", overlay=overlay)
    now, upgrade = _tags(), _tags(NEXT_VERSION)
    return {
        "now": now["medusa"],
        "next": upgrade["medusa"],
        "postgres": now["postgres"],
        "redis": now["redis"],
        "seconds": round(time.monotonic() - started, 1),
    }


def _image_values(ref: str, **more) -> dict:
    repository, tag = ref.rsplit(":", 1)
    return {"repository": repository, "tag": tag, "pullPolicy": "Never", **more}


@pytest.fixture
def values_files(store_images, tmp_path):
    """The real node's placement and volumes, and the images built here; the next version's on top."""
    here = tmp_path / "medusa-node.yaml"
    here.write_text(
        yaml.safe_dump(
            {
                "image": _image_values(store_images["now"]),
                "postgres": {"image": _image_values(store_images["postgres"])},
                "redis": {"image": _image_values(store_images["redis"])},
            }
        )
    )
    upgrade = tmp_path / "medusa-next.yaml"
    upgrade.write_text(yaml.safe_dump({"image": _image_values(store_images["next"], schemaVersion=2)}))
    return [str(VALUES_FILE), str(VOLUMES_FILE), str(here)], str(upgrade)


@pytest.fixture
def platform(local_cluster, store_settings, values_files, monkeypatch):
    files, _ = values_files
    # The platform reaches the store by its host through the ingress stand-in,
    # as one behind an HTTP proxy would (helm and the API client never use it).
    proxy = {"http_proxy": INGRESS_PROXY, "no_proxy": "127.0.0.1,localhost"}
    for name, value in proxy.items():
        monkeypatch.setenv(name, value)
    store_settings.STORE_VALUES_FILES = files
    store_settings.CHECK_STORE_URL = True
    p = Platform(
        connection.settings_dict,
        KUBECONFIG=str(local_cluster.kubeconfig),
        HELM_BIN=str(local_cluster.helm),
        CHECK_STORE_URL="true",
        STORE_VALUES_FILES=",".join(files),
        **proxy,
    )
    yield p
    p.stop()


@pytest.fixture
def browser(monkeypatch):
    """Chromium that reaches stores through the ingress stand-in."""
    # Playwright's sync API runs an event loop in this thread; the test's ORM
    # calls are still synchronous. Scoped to the test: a leaked variable would
    # fail the deploy checks of every later test.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, proxy={"server": INGRESS_PROXY, "bypass": "127.0.0.1"}
        )
        yield chromium
        chromium.close()


def _proxied():
    return urllib.request.build_opener(urllib.request.ProxyHandler({"http": INGRESS_PROXY}))


def _upload(store_url: str, token: str, payload: bytes) -> str:
    """A product image through the admin API (multipart), as the admin's uploader sends it; its URL."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="mug-photo.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    req = urllib.request.Request(
        store_url + "/admin/uploads",
        data=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}", "authorization": f"Bearer {token}"},
    )
    with _proxied().open(req, timeout=60) as res:
        (uploaded,) = json.load(res)["files"]
    return str(uploaded["url"])


def _photo() -> bytes:
    """A PNG of noise, which does not compress: 1024 x 720 RGB, a little over 2 MB."""
    width, height = PHOTO_SIZE
    rows = b"".join(b"\x00" + secrets.token_bytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b"")


def _shows_on_the_storefront(browser, store_url: str, photo_url: str, shot: str) -> None:
    """The storefront's product list shows the photo, loaded from the store's own URL."""
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(store_url + "/")
    image = page.locator(f'img[src="{photo_url}"]').first
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == PHOTO_SIZE[0]
    screenshot(page, shot)
    page.close()


def _get(url: str) -> bytes:
    with _proxied().open(url, timeout=30) as res:
        return res.read()


def _pods(node, namespace: str) -> dict[str, dict]:
    return {
        p["metadata"]["labels"]["app.kubernetes.io/component"]: p for p in node.json("pods", "-n", namespace)["items"]
    }


def _memory_mb(node, namespace: str) -> dict[str, float]:
    """Each running pod's memory as its cgroup counts it (the kernel's, not a guess)."""
    usage = {}
    for component, pod in _pods(node, namespace).items():
        if pod["status"].get("phase") != "Running":
            continue
        uid = pod["metadata"]["uid"]
        found = subprocess.run(
            [
                "sh",
                "-c",
                f"cat /sys/fs/cgroup/memory/kubepods*/*/pod{uid}/memory.usage_in_bytes "
                f"/sys/fs/cgroup/memory/kubepods*/pod{uid}/memory.usage_in_bytes 2>/dev/null | head -1",
            ],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if found:
            usage[component] = round(int(found) / 2**20, 1)
    return usage


def _logs(node, namespace: str) -> str:
    """The last lines of every pod's log, for a failure's message."""
    out = []
    for pod in node.json("pods", "-n", namespace)["items"]:
        name = pod["metadata"]["name"]
        log = node.kubectl("logs", "-n", namespace, name, "--all-containers", "--tail=200", check=False)
        lines = (log.stdout + log.stderr).splitlines()
        # What went wrong, then how it ended.
        errors = [line[:400] for line in lines if '"level":"error"' in line or "Error" in line][:8]
        out.append(f"--- {name}\n" + "\n".join([*errors, "...", *lines[-12:]]))
    return "\n".join(out)


def _volume_dirs(node) -> set[str]:
    volumes = STATE_DIR / "node" / "volumes"
    return {p.name for p in volumes.iterdir()} if volumes.exists() else set()


# --- backups: the store's objects go to a real S3 server, and come back ------------------------


@pytest.fixture(scope="module")
def node_object_store(store_images, tmp_path_factory):
    """SeaweedFS on the host's end of the node's veth pair, where a store's backup Job
    reaches it through the store's NetworkPolicies (and nothing else is let through)."""
    with running_object_store(tmp_path_factory.mktemp("node-objectstore"), HOST_IP) as bucket:
        yield bucket


@pytest.fixture
def backups_on(node_object_store, store_settings, platform):
    """The platform backs stores up into it: this process's settings and its workers'.
    The nightly round is kept away from the test (its night starts in twelve hours)."""
    config = node_object_store.config
    night = (time.gmtime().tm_hour + 12) % 24
    env = {
        "BACKUP_S3_ENDPOINT": config.endpoint,
        "BACKUP_S3_BUCKET": config.bucket,
        "BACKUP_S3_REGION": config.region,
        "BACKUP_S3_ACCESS_KEY_ID": config.access_key_id,
        "BACKUP_S3_SECRET_ACCESS_KEY": config.secret_access_key,
        "BACKUP_NIGHT_START_HOUR": str(night),
        "BACKUP_NIGHT_HOURS": "1",
    }
    for name, value in env.items():
        setattr(store_settings, name, int(value) if name.startswith("BACKUP_NIGHT") else value)
    platform.env.update(env)
    return node_object_store


def _shoppers_orders(store_url: str, token: str) -> set[str]:
    """The ids of the orders the test's shopper placed (the platform's checkout checks use their own address)."""
    orders = shopper.admin_api(store_url, "/admin/orders?fields=id,email&limit=100", token, opener=_proxied())
    return {o["id"] for o in orders["orders"] if o["email"] == shopper.SHOPPER_EMAIL}


def _wait_ready(node, store: Store, what: str, timeout: float = 420) -> Store:
    wait_for(
        lambda: Store.objects.get(pk=store.pk).status in (Status.READY, Status.FAILED, Status.LOST),
        timeout=timeout,
        interval=1,
        what=what,
    )
    store.refresh_from_db()
    assert store.status == Status.READY, f"{store.failure_reason}\n{_logs(node, store.namespace)}"
    return store


@pytest.mark.timeout(1200)
def test_a_medusa_store_sells_is_restored_from_its_backup_upgrades_and_comes_back_after_its_delete(
    alice, node, platform, values_files, store_images, backups_on, browser, store_settings, cleanup
):
    figures: dict = {"image_build_and_import_seconds": store_images["seconds"]}
    volumes_before = _volume_dirs(node)
    platform.start_workers()

    # --- created through the platform, provisioned by its real workers ------------------------
    slug = f"mug-shop-{secrets.token_hex(2)}"
    started = time.monotonic()
    # The shopper's euros and German address (tests/medusa_shopper.py).
    store = tasks.request_create(alice, slug, "medusa", country="DE", currency="EUR")
    wait_for(
        lambda: Store.objects.get(pk=store.pk).status in (Status.READY, Status.FAILED),
        timeout=300,
        interval=1,
        what="the Medusa store to be provisioned",
    )
    store.refresh_from_db()
    figures["create_to_ready_seconds"] = round(time.monotonic() - started, 1)
    assert store.status == Status.READY, f"{store.failure_reason}\n{_logs(node, store.namespace)}"
    messages = list(StoreEvent.objects.filter(store=store).values_list("message", flat=True))
    assert f"{store.url} answers." in messages
    # Ready means a shopper can buy: the platform's own checkout check went through first.
    assert store.checkout_verified_at is not None, store.checkout_unverified_reason
    checkout_step = StoreEvent.objects.get(store=store, kind="step", step="checkout")
    figures["checkout_check_seconds"] = round(checkout_step.duration_ms / 1000, 2)
    ns = store.namespace
    pods = _pods(node, ns)
    assert set(pods) == {"server", "worker", "storefront", "postgres", "redis", "setup"}
    assert {p["spec"]["nodeName"] for p in pods.values()} == {NODE_NAME}
    for component, pod in pods.items():
        for status in pod["status"]["containerStatuses"]:
            assert status["restartCount"] == 0, (component, status)
            assert status["containerID"].startswith("containerd://")
    assert pods["setup"]["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"] == 0
    figures["memory_mb"] = _memory_mb(node, ns)
    figures["memory_mb_total_server_worker_postgres_redis"] = round(
        sum(figures["memory_mb"].get(c, 0) for c in ("server", "worker", "postgres", "redis")), 1
    )

    # --- a shopper buys, cash on delivery; the admin lists the order ---------------------------
    shown = {label: value for label, value, _secret in credentials.credentials_for(store)}
    email, password = shown["Admin e-mail"], shown["Admin password"]
    started = time.monotonic()
    order = shopper.buy_two_mugs_cash_on_delivery(
        browser, store.url, store_name=slug.replace("-", " ").title(), shots="medusa-node"
    )
    figures["checkout_in_browser_seconds"] = round(time.monotonic() - started, 1)
    token = shopper.admin_token(store.url, email, password, opener=_proxied())
    shopper.find_order(store.url, token, order, opener=_proxied())
    shopper.admin_lists_the_order(browser, store.url, email, password, order, shot="medusa-node-admin-orders")

    # --- a photo over 2 MB, uploaded through the admin API, on the storefront at the store's URL --
    photo = _photo()
    assert len(photo) > 2 * 1024 * 1024
    url = _upload(store.url, token, photo)
    assert url.startswith(f"{store.url}/static/"), url
    assert _get(url) == photo
    products = shopper.admin_api(store.url, "/admin/products?fields=id,title", token, opener=_proxied())["products"]
    (mug,) = [p for p in products if p["title"] == "Enamel camp mug"]
    shopper.admin_api(store.url, f"/admin/products/{mug['id']}", token, {"thumbnail": url}, opener=_proxied())
    _shows_on_the_storefront(browser, store.url, url, "medusa-node-photo")

    # --- a backup: a Job in the store's namespace runs the store's own images ------------------
    started = time.monotonic()
    call_command("stores", "backup", slug)
    figures["backup_seconds"] = round(time.monotonic() - started, 1)
    backup = Backup.objects.get(store=store, kind=Backup.Kind.MANUAL)
    assert backup.state == Backup.State.DONE, backup.error
    figures["backup_bytes"] = {name: meta["size"] for name, meta in backup.manifest["objects"].items()}
    assert backup.manifest["objects"]["files.tar.gz"]["size"] > len(photo)  # the photo does not compress
    assert set(backups_on.keys(backup.key_prefix)) >= {
        backup.key_prefix + name for name in ("database.dump", "files.tar.gz", "SHA256SUMS", "manifest.json")
    }
    (job,) = [j for j in node.json("jobs", "-n", ns)["items"] if j["metadata"]["name"] == backup.job_name]
    assert job["status"].get("succeeded") == 1
    assert _pods(node, ns)["backup"]["spec"]["nodeName"] == NODE_NAME

    # --- order B, then a restore: the store goes through restoring and its checks; A only ------
    order_b = shopper.buy_two_mugs_cash_on_delivery(
        browser, store.url, store_name=slug.replace("-", " ").title(), shots="medusa-node-b"
    )
    assert _shoppers_orders(store.url, token) == {order.id, order_b.id}
    started = time.monotonic()
    call_command("stores", "restore", slug)
    figures["restore_seconds"] = round(time.monotonic() - started, 1)
    store.refresh_from_db()
    assert store.status == Status.READY
    codes = list(store.events.values_list("code", flat=True))
    assert codes.index(EventCode.RESTORE_REQUESTED) < codes.index(EventCode.RESTORED)
    assert store.checkout_verified_at is not None  # the restored store's checkout check went through
    token = shopper.admin_token(store.url, email, password, opener=_proxied())
    assert _shoppers_orders(store.url, token) == {order.id}
    # The restore replaced the server, worker and storefront pods (a rolling restart): the photo
    # outlives them, on the volume.
    running = [p for p in node.json("pods", "-n", ns)["items"] if not p["metadata"].get("deletionTimestamp")]
    for component in ("server", "worker", "storefront"):
        uids = {p["metadata"]["uid"] for p in running if p["metadata"]["labels"].get(COMPONENT_LABEL) == component}
        assert uids and pods[component]["metadata"]["uid"] not in uids, component
    assert _get(url) == photo
    _shows_on_the_storefront(browser, store.url, url, "medusa-node-photo-after-restore")

    # --- the next version: a new image with a migration; the order and the photo stay ---------
    _, upgrade = values_files
    platform.stop()  # the upgrade runs in the operator's command, here
    store_settings.STORE_VALUES_FILES = [*store_settings.STORE_VALUES_FILES, upgrade]
    started = time.monotonic()
    call_command("stores", "upgrade", slug)
    figures["upgrade_seconds"] = round(time.monotonic() - started, 1)
    store.refresh_from_db()
    assert store.status == Status.READY, store.failure_reason
    assert f"localhost/store-provisioner/medusa:{store_images['next'].rsplit(':', 1)[1]}" in store.images
    token = shopper.admin_token(store.url, email, password, opener=_proxied())
    shopper.find_order(store.url, token, order, opener=_proxied())
    assert _get(url) == photo

    # Medusa cannot undo the migration the new image ran: back to the old image is refused.
    with pytest.raises(Exception, match="cannot undo migrations"):
        call_command("stores", "rollback", slug)
    store.refresh_from_db()
    assert store.status == Status.READY

    # --- delete: nothing left in the cluster or on the node's disk -----------------------------
    started = time.monotonic()
    lifecycle.request_delete(store.pk)
    tasks.delete(store.pk)
    store.refresh_from_db()
    figures["delete_seconds"] = round(time.monotonic() - started, 1)
    assert store.status == Status.DELETED, store.failure_reason
    assert node.kubectl("get", "namespace", ns, check=False).returncode != 0
    assert not [pv for pv in node.json("pv")["items"] if (pv["spec"].get("claimRef") or {}).get("namespace") == ns]
    wait_for(
        lambda: _volume_dirs(node) <= volumes_before,
        timeout=60,
        interval=1,
        what="the store's volumes to leave the node's disk",
    )
    # ... but its final backup is kept, made by the delete's first step.
    final = Backup.objects.get(store=store, kind=Backup.Kind.FINAL)
    assert final.state == Backup.State.DONE, final.error
    assert final.keep_until is not None and final.keep_until > store.deleted_at
    figures["final_backup_seconds"] = StoreEvent.objects.get(store=store, kind="step", step="backup").duration_ms / 1000

    # --- restored into a new store under its name: order A, and the photo at its address -------
    platform.env["STORE_VALUES_FILES"] = ",".join(store_settings.STORE_VALUES_FILES)  # the next version's
    platform.start_workers()
    started = time.monotonic()
    new = tasks.request_restore_into_new_store(alice, final, slug)
    wait_for(
        lambda: (
            StoreEvent.objects.filter(store=new, code__in=(EventCode.RESTORED, EventCode.RESTORE_FAILED)).exists()
            or Store.objects.get(pk=new.pk).status == Status.FAILED
        ),
        timeout=600,
        interval=2,
        what="the new store to be provisioned and restored",
    )
    new = _wait_ready(node, new, "the new store")
    figures["restore_into_new_store_seconds"] = round(time.monotonic() - started, 1)
    assert new.pk != store.pk and new.url == store.url
    new_login = {label: value for label, value, _secret in credentials.credentials_for(new)}
    assert new_login["Admin password"] == password  # the credentials its restored database expects
    token = shopper.admin_token(new.url, email, password, opener=_proxied())
    assert _shoppers_orders(new.url, token) == {order.id}
    assert _get(url) == photo
    _shows_on_the_storefront(browser, new.url, url, "medusa-node-photo-restored")

    LOG_DIR.mkdir(parents=True, exist_ok=True)
    FIGURES.write_text(json.dumps(figures, indent=2) + "\n")
    print("medusa on the real node:", json.dumps(figures))
