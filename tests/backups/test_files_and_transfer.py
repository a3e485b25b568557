"""The backup Job's file scripts (files-archive.sh, files-extract.sh) on real
directories, and transfer.sh against a real HTTP server standing in for S3's
presigned URLs: with curl, and with node's fetch where the image has no curl
(the Medusa image)."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.backups.support import free_port, run_script

# It never touches the platform's database; `make test` runs it in its SQLite pass, to even out
# the two passes (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.sqlite_pass

# --- files-archive.sh and files-extract.sh -------------------------------------------------


def tree(root: Path) -> dict[str, tuple]:
    """Every entry under root: its kind, mode and content (or link target)."""
    entries = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            entries[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            entries[rel] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            entries[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return entries


def make_store_files(root: Path) -> None:
    uploads = root / "uploads" / "2024" / "03"
    uploads.mkdir(parents=True)
    (uploads / "Kaffeetasse Möwe (weiß).jpg").write_bytes(bytes(range(256)) * 40)
    (uploads / "empty.txt").write_bytes(b"")
    (root / "uploads" / "2024").chmod(0o750)
    plugin = root / "plugins" / "store-mail"
    plugin.mkdir(parents=True)
    (plugin / "store-mail.php").write_text("<?php // a plugin\n")
    (plugin / "bin.sh").write_text("#!/bin/sh\necho hi\n")
    (plugin / "bin.sh").chmod(0o755)
    (root / "wp-config-secret.php").write_text("<?php define('AUTH_KEY', 'x');\n")
    (root / "wp-config-secret.php").chmod(0o600)
    (root / "uploads" / "latest.jpg").symlink_to("2024/03/Kaffeetasse Möwe (weiß).jpg")


def files_env(files_dir: Path, backup_dir: Path) -> dict[str, str]:
    return {"FILES_DIR": str(files_dir), "BACKUP_DIR": str(backup_dir)}


def test_an_archive_extracted_over_other_files_gives_the_same_tree(tmp_path):
    source, backup, target = tmp_path / "source", tmp_path / "backup", tmp_path / "target"
    for d in (source, backup, target):
        d.mkdir()
    make_store_files(source)

    archived = run_script("files-archive.sh", env=files_env(source, backup))
    assert archived.returncode == 0, archived.stderr
    archive = backup / "files.tar.gz"
    assert f"archived to {archive} (" in archived.stdout
    assert sorted(p.name for p in backup.iterdir()) == ["files.tar.gz"]
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    assert all(m.name.startswith("./") and m.name != "./" for m in members)  # relative, the directory itself not in
    assert all(m.uname == "" and m.gname == "" for m in members)  # numeric owners only

    # What the target held before is gone, what the archive holds is there.
    (target / "stale.txt").write_text("from before the restore")
    (target / "uploads" / "old").mkdir(parents=True)
    (target / "uploads" / "old" / "x.jpg").write_bytes(b"old")
    (target / ".htaccess").write_text("hidden files too")
    extracted = run_script("files-extract.sh", env=files_env(target, backup))
    assert extracted.returncode == 0, extracted.stderr
    assert tree(target) == tree(source)


def test_an_empty_directory_gives_a_valid_archive_that_empties_the_target(tmp_path):
    source, backup, target = tmp_path / "source", tmp_path / "backup", tmp_path / "target"
    for d in (source, backup, target):
        d.mkdir()
    assert run_script("files-archive.sh", env=files_env(source, backup)).returncode == 0
    with tarfile.open(backup / "files.tar.gz") as tar:
        assert tar.getmembers() == []
    make_store_files(target)
    assert run_script("files-extract.sh", env=files_env(target, backup)).returncode == 0
    assert tree(target) == {}


def test_a_damaged_archive_is_refused_before_anything_is_removed(tmp_path):
    source, backup = tmp_path / "source", tmp_path / "backup"
    source.mkdir()
    backup.mkdir()
    make_store_files(source)
    before = tree(source)
    assert run_script("files-archive.sh", env=files_env(source, backup)).returncode == 0
    archive = backup / "files.tar.gz"
    archive.write_bytes(archive.read_bytes()[:-100])
    proc = run_script("files-extract.sh", env=files_env(source, backup))
    assert proc.returncode == 1
    assert "is not a readable tar.gz archive" in proc.stderr
    assert tree(source) == before


@pytest.fixture
def shared_dir():
    """A directory another user may use (pytest's own are private to the user running the tests)."""
    path = Path(tempfile.mkdtemp(prefix="backup-files-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_user_owning_the_files_extracts_them_into_a_mount_point_it_does_not_own(shared_dir):
    """As the store's web server user: the mount point belongs to root (writable
    by the user), lost+found to root and is left alone; the files become the user's."""
    if os.geteuid() == 0:
        as_user = {"user": 65534, "group": 65534, "extra_groups": []}  # nobody
        uid = 65534
    else:
        as_user, uid = {}, os.geteuid()
    source, backup, mount = shared_dir / "source", shared_dir / "backup", shared_dir / "mount"
    for d in (source, backup, mount):
        d.mkdir()
    make_store_files(source)
    assert run_script("files-archive.sh", env=files_env(source, backup)).returncode == 0
    mount.chmod(0o1777)
    (mount / "lost+found").mkdir(mode=0o700)
    if as_user:
        os.chown(backup, uid, uid)
        (mount / "old.txt").write_text("the user's own file from before")
        os.chown(mount / "old.txt", uid, uid)

    proc = run_script("files-extract.sh", env=files_env(mount, backup), **as_user)
    assert proc.returncode == 0, proc.stderr
    restored = tree(mount)
    assert restored.pop("lost+found") == ("dir", 0o700)
    assert restored == tree(source)
    assert {p.lstat().st_uid for p in mount.rglob("*") if p.name != "lost+found"} == {uid}
    assert stat.S_IMODE(mount.stat().st_mode) == 0o1777  # the mount point as it was


# --- transfer.sh -------------------------------------------------------------------------

SIGNATURE = "5d41402abc4b2a76b9719d911017c592ae5e7e3f0cbb1b8e4c4ad0b1f7e6c3a9"


@dataclass
class Bucket:
    """What the stand-in for S3 holds and was asked."""

    objects: dict[str, bytes] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    unavailable: dict[str, int] = field(default_factory=dict)  # path: how many 503s before it answers
    cut_short: set[str] = field(default_factory=set)  # paths whose download breaks off
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    base: str = ""

    def url(self, key: str) -> str:
        """A presigned URL's shape: the signature and credentials in the query string."""
        return (
            f"{self.base}/store-backups/shop-1/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAEXAMPLE%2F20240301%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Date=20240301T120000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
        )


def make_handler(bucket: Bucket):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # curl's Expect: 100-continue is answered

        def log_message(self, *args):
            pass

        def _answer(self, status: int, body: bytes = b"", close: bool = False):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)

        def _refused(self, path: str) -> bool:
            if "X-Amz-Signature=" not in self.path or path in bucket.forbidden:
                # S3 names the resource; this stand-in echoes the whole request
                # line, query string included, to prove the scripts never print it.
                signature = self.path.partition("X-Amz-Signature=")[2]
                body = (
                    "<?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>AccessDenied</Code>"
                    f"<Message>Request has expired</Message><Resource>{self.path}</Resource>"
                    f"<SignatureProvided>{signature}</SignatureProvided></Error>"
                ).encode()
                self._answer(403, body, close=True)
                return True
            return False

        def do_PUT(self):
            path = self.path.split("?")[0]
            bucket.requests.append(("PUT", path, {k.lower(): v for k, v in self.headers.items()}))
            if self._refused(path):
                return
            if "Content-Length" not in self.headers or "Transfer-Encoding" in self.headers:
                self._answer(411, b"<Error><Code>MissingContentLength</Code></Error>", close=True)
                return
            bucket.objects[path] = self.rfile.read(int(self.headers["Content-Length"]))
            self._answer(200)

        def do_GET(self):
            path = self.path.split("?")[0]
            bucket.requests.append(("GET", path, {k.lower(): v for k, v in self.headers.items()}))
            if bucket.unavailable.get(path, 0) > 0:
                bucket.unavailable[path] -= 1
                self._answer(503, b"<Error><Code>SlowDown</Code></Error>")
                return
            if self._refused(path):
                return
            if path not in bucket.objects:
                self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
                return
            if path in bucket.cut_short:
                body = bucket.objects[path]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self._answer(200, bucket.objects[path])

    return Handler


@pytest.fixture
def bucket():
    state = Bucket()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def path_without_curl(tmp_path_factory):
    """A PATH holding every program of this machine's but curl, as in the Medusa image."""
    bin_dir = tmp_path_factory.mktemp("no-curl-bin")
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            if name != "curl" and not (bin_dir / name).exists():
                (bin_dir / name).symlink_to(os.path.join(directory, name))
    assert shutil.which("curl", path=str(bin_dir)) is None
    return str(bin_dir)


@pytest.fixture(params=["curl", "node"])
def client_path(request, path_without_curl):
    """The PATH the script runs with: with curl, or with node alone."""
    if shutil.which(request.param) is None:
        pytest.fail(f"{request.param} is missing on this machine")
    if request.param == "node":
        return path_without_curl
    return os.environ.get("PATH", "/usr/bin:/bin")


OBJECTS = ["database.dump", "files.tar.gz", "SHA256SUMS"]


def transfer_env(bucket: Bucket, backup_dir: Path, path: str, objects=OBJECTS) -> dict[str, str]:
    env = {"PATH": path, "BACKUP_DIR": str(backup_dir), "BACKUP_OBJECTS": " ".join(objects)}
    for i, name in enumerate(objects):
        env[f"BACKUP_URL_{i}"] = bucket.url(f"2024-03-01T120000Z/{name}")
    return env


def key(name: str) -> str:
    return f"/store-backups/shop-1/2024-03-01T120000Z/{name}"


def put_backup(tmp_path: Path, bucket: Bucket, path: str) -> Path:
    backup = tmp_path / "put"
    backup.mkdir()
    # More than curl's 1 MB threshold for Expect: 100-continue, in several reads for node.
    (backup / "database.dump").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (backup / "files.tar.gz").write_bytes(b"\x1f\x8b" + os.urandom(1000))
    proc = run_script("transfer.sh", "put", env=transfer_env(bucket, backup, path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"transfer.sh: put database.dump ({3 * 1024 * 1024 + 17} bytes)",
        "transfer.sh: put files.tar.gz (1002 bytes)",
        f"transfer.sh: put SHA256SUMS ({(backup / 'SHA256SUMS').stat().st_size} bytes)",
    ]
    return backup


def test_put_uploads_every_object_with_its_length_and_checksums_then_get_brings_them_back(
    client_path, bucket, tmp_path
):
    backup = put_backup(tmp_path, bucket, client_path)
    for name in ("database.dump", "files.tar.gz"):
        assert bucket.objects[key(name)] == (backup / name).read_bytes()
    sums = bucket.objects[key("SHA256SUMS")].decode()
    assert sums == "".join(
        f"{hashlib.sha256((backup / name).read_bytes()).hexdigest()}  {name}\n"
        for name in ("database.dump", "files.tar.gz")
    )
    puts = [(path, headers) for method, path, headers in bucket.requests if method == "PUT"]
    # SHA256SUMS last; every body with its length declared, none sent chunked.
    assert [path for path, _ in puts] == [key(name) for name in OBJECTS]
    assert all("transfer-encoding" not in headers for _, headers in puts)
    agent = "curl/" if "no-curl-bin" not in client_path else "store-backup node/"
    assert all(headers["user-agent"].startswith(agent) for _, headers in puts)

    restore = tmp_path / "get"
    restore.mkdir()
    proc = run_script("transfer.sh", "get", env=transfer_env(bucket, restore, client_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        f"transfer.sh: got database.dump ({3 * 1024 * 1024 + 17} bytes)",
        "transfer.sh: got files.tar.gz (1002 bytes)",
        f"transfer.sh: got SHA256SUMS ({len(sums)} bytes)",
        "transfer.sh: checked database.dump files.tar.gz against SHA256SUMS",
    ]
    assert sorted(p.name for p in restore.iterdir()) == sorted(OBJECTS)
    for name in OBJECTS:
        assert (restore / name).read_bytes() == (backup / name).read_bytes()


def test_get_fails_when_an_object_does_not_match_its_checksum(client_path, bucket, tmp_path):
    put_backup(tmp_path, bucket, client_path)
    bucket.objects[key("files.tar.gz")] = b"\x1f\x8b" + b"tampered"
    restore = tmp_path / "get"
    restore.mkdir()
    proc = run_script("transfer.sh", "get", env=transfer_env(bucket, restore, client_path))
    assert proc.returncode == 1
    assert "files.tar.gz: FAILED" in proc.stdout + proc.stderr
    assert "transfer.sh: checksum mismatch" in proc.stderr


def test_an_http_error_names_the_object_and_status_but_never_the_query_string(client_path, bucket, tmp_path):
    put_backup(tmp_path, bucket, client_path)
    bucket.forbidden.add(key("files.tar.gz"))
    restore = tmp_path / "get"
    restore.mkdir()
    proc = run_script("transfer.sh", "get", env=transfer_env(bucket, restore, client_path))
    assert proc.returncode == 1
    (message,) = proc.stderr.splitlines()
    assert message.startswith(
        f"transfer.sh: GET files.tar.gz failed: HTTP 403 from {bucket.base}/store-backups/shop-1/"
        "2024-03-01T120000Z/files.tar.gz: <?xml version='1.0' encoding='UTF-8'?> <Error><Code>AccessDenied</Code>"
    )
    assert "Request has expired" in message
    assert "X-Amz" not in message and SIGNATURE not in proc.stdout + proc.stderr
    # The object downloaded before the failure stays; the failed one leaves nothing.
    assert sorted(p.name for p in restore.iterdir()) == ["database.dump"]

    # Uploads say the same.
    proc = run_script("transfer.sh", "put", env=transfer_env(bucket, tmp_path / "put", client_path))
    assert proc.returncode == 1
    assert "transfer.sh: PUT files.tar.gz failed: HTTP 403 from " in proc.stderr
    assert "X-Amz" not in proc.stderr and SIGNATURE not in proc.stdout + proc.stderr


def test_a_busy_server_is_asked_again(client_path, bucket, tmp_path):
    put_backup(tmp_path, bucket, client_path)
    bucket.unavailable[key("database.dump")] = 1
    restore = tmp_path / "get"
    restore.mkdir()
    proc = run_script("transfer.sh", "get", env=transfer_env(bucket, restore, client_path))
    assert proc.returncode == 0, proc.stderr
    gets = [path for method, path, _ in bucket.requests if method == "GET"]
    assert gets == [key("database.dump"), *(key(name) for name in OBJECTS)]


def test_a_download_that_breaks_off_fails_and_leaves_nothing(client_path, bucket, tmp_path):
    put_backup(tmp_path, bucket, client_path)
    bucket.cut_short.add(key("database.dump"))
    restore = tmp_path / "get"
    restore.mkdir()
    env = {**transfer_env(bucket, restore, client_path), "TRANSFER_RETRIES": "0"}
    proc = run_script("transfer.sh", "get", env=env)
    assert proc.returncode == 1
    assert proc.stderr.startswith("transfer.sh: GET database.dump failed: ")
    assert list(restore.iterdir()) == []


def test_an_unreachable_server_fails_without_the_query_string(client_path, bucket, tmp_path):
    backup = tmp_path / "get"
    backup.mkdir()
    env = transfer_env(bucket, backup, client_path, objects=["database.dump"])
    # A port nothing listens on (fetch refuses the "bad ports", such as 9, itself).
    env["BACKUP_URL_0"] = env["BACKUP_URL_0"].replace(bucket.base, f"http://127.0.0.1:{free_port()}")
    env["TRANSFER_RETRIES"] = "0"
    proc = run_script("transfer.sh", "get", env=env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.startswith("transfer.sh: GET database.dump failed: ")
    assert "ECONNREFUSED" in proc.stderr or "Couldn't connect to server" in proc.stderr
    assert "X-Amz" not in proc.stderr and SIGNATURE not in proc.stderr
    assert list(backup.iterdir()) == []


def test_a_missing_url_or_an_odd_name_is_refused(bucket, tmp_path):
    env = transfer_env(bucket, tmp_path, os.environ["PATH"])
    del env["BACKUP_URL_2"]
    proc = run_script("transfer.sh", "put", env=env)
    assert (proc.returncode, proc.stderr) == (1, "transfer.sh: BACKUP_URL_2 (the URL for SHA256SUMS) is not set\n")
    proc = run_script("transfer.sh", "get", env=transfer_env(bucket, tmp_path, os.environ["PATH"], ["../x"]))
    assert (proc.returncode, proc.stderr) == (1, "transfer.sh: object name '../x' is not a plain file name\n")
    proc = run_script("transfer.sh", "push", env=env)
    assert (proc.returncode, proc.stderr) == (1, "transfer.sh: usage: transfer.sh put|get\n")
    assert bucket.requests == []
