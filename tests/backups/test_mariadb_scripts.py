"""The WooCommerce backup scripts (mariadb-dump.sh, mariadb-restore.sh) against a
real MariaDB server: Debian's mariadbd, private to this module, with the
store's user as the official image makes it (all privileges on its database,
none elsewhere) and a WordPress and WooCommerce shaped database.

The scripts connect over TCP, as the backup Job does to the store's database
Service; the checks connect as the server's administrator over its socket."""

from __future__ import annotations

import getpass
import gzip
import os
import shutil
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backups.support import free_port, run_script

# It never touches the platform's database; `make test` runs it in its SQLite pass, to even out
# the two passes (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.sqlite_pass

DATABASE = "wordpress"
USER = "wordpress"
# Quotes, a backslash, '#' (a comment in option files) and spaces: the
# scripts' client option file must carry it as it is.
PASSWORD = "w0rd \"p#ss\" \\ 'q' $x "

SCHEMA = """
CREATE TABLE wp_options (
  option_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  option_name varchar(191) NOT NULL DEFAULT '',
  option_value longtext NOT NULL,
  autoload varchar(20) NOT NULL DEFAULT 'yes',
  PRIMARY KEY (option_id),
  UNIQUE KEY option_name (option_name),
  KEY autoload (autoload)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

CREATE TABLE wp_users (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  user_login varchar(60) NOT NULL DEFAULT '',
  user_pass varchar(255) NOT NULL DEFAULT '',
  user_nicename varchar(50) NOT NULL DEFAULT '',
  user_email varchar(100) NOT NULL DEFAULT '',
  user_url varchar(100) NOT NULL DEFAULT '',
  user_registered datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  user_activation_key varchar(255) NOT NULL DEFAULT '',
  user_status int(11) NOT NULL DEFAULT 0,
  display_name varchar(250) NOT NULL DEFAULT '',
  PRIMARY KEY (ID),
  KEY user_login_key (user_login),
  KEY user_nicename (user_nicename),
  KEY user_email (user_email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

CREATE TABLE wp_posts (
  ID bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_author bigint(20) unsigned NOT NULL DEFAULT 0,
  post_date datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_date_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content longtext NOT NULL,
  post_title text NOT NULL,
  post_excerpt text NOT NULL,
  post_status varchar(20) NOT NULL DEFAULT 'publish',
  comment_status varchar(20) NOT NULL DEFAULT 'open',
  ping_status varchar(20) NOT NULL DEFAULT 'open',
  post_password varchar(255) NOT NULL DEFAULT '',
  post_name varchar(200) NOT NULL DEFAULT '',
  to_ping text NOT NULL,
  pinged text NOT NULL,
  post_modified datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_modified_gmt datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
  post_content_filtered longtext NOT NULL,
  post_parent bigint(20) unsigned NOT NULL DEFAULT 0,
  guid varchar(255) NOT NULL DEFAULT '',
  menu_order int(11) NOT NULL DEFAULT 0,
  post_type varchar(20) NOT NULL DEFAULT 'post',
  post_mime_type varchar(100) NOT NULL DEFAULT '',
  comment_count bigint(20) NOT NULL DEFAULT 0,
  PRIMARY KEY (ID),
  KEY post_name (post_name(191)),
  KEY type_status_date (post_type, post_status, post_date, ID),
  KEY post_parent (post_parent),
  KEY post_author (post_author)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

CREATE TABLE wp_postmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  post_id bigint(20) unsigned NOT NULL DEFAULT 0,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id),
  KEY post_id (post_id),
  KEY meta_key (meta_key(191))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- WooCommerce's high-performance order storage (HPOS).
CREATE TABLE wp_wc_orders (
  id bigint(20) unsigned NOT NULL,
  status varchar(20) DEFAULT NULL,
  currency varchar(10) DEFAULT NULL,
  type varchar(20) DEFAULT NULL,
  tax_amount decimal(26,8) DEFAULT NULL,
  total_amount decimal(26,8) DEFAULT NULL,
  customer_id bigint(20) unsigned DEFAULT NULL,
  billing_email varchar(320) DEFAULT NULL,
  date_created_gmt datetime DEFAULT NULL,
  date_updated_gmt datetime DEFAULT NULL,
  parent_order_id bigint(20) unsigned DEFAULT NULL,
  payment_method varchar(100) DEFAULT NULL,
  payment_method_title text DEFAULT NULL,
  transaction_id varchar(100) DEFAULT NULL,
  ip_address varchar(100) DEFAULT NULL,
  user_agent text DEFAULT NULL,
  customer_note text DEFAULT NULL,
  PRIMARY KEY (id),
  KEY status (status),
  KEY date_created (date_created_gmt),
  KEY customer_id_billing_email (customer_id, billing_email(171)),
  KEY billing_email (billing_email(191)),
  KEY type_status_date (type, status, date_created_gmt),
  KEY parent_order_id (parent_order_id),
  KEY date_updated (date_updated_gmt)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- WooCommerce's order items (the same tables with or without HPOS).
CREATE TABLE wp_woocommerce_order_items (
  order_item_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  order_item_name text NOT NULL,
  order_item_type varchar(200) NOT NULL DEFAULT '',
  order_id bigint(20) unsigned NOT NULL,
  PRIMARY KEY (order_item_id),
  KEY order_id (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

CREATE TABLE wp_woocommerce_order_itemmeta (
  meta_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  order_item_id bigint(20) unsigned NOT NULL,
  meta_key varchar(255) DEFAULT NULL,
  meta_value longtext,
  PRIMARY KEY (meta_id),
  KEY order_item_id (order_item_id),
  KEY meta_key (meta_key(32))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- WooCommerce's download log, whose foreign key makes the drop order matter.
CREATE TABLE wp_woocommerce_downloadable_product_permissions (
  permission_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  download_id varchar(36) NOT NULL,
  product_id bigint(20) unsigned NOT NULL,
  order_id bigint(20) unsigned NOT NULL DEFAULT 0,
  user_email varchar(200) NOT NULL,
  PRIMARY KEY (permission_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

CREATE TABLE wp_wc_download_log (
  download_log_id bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  timestamp datetime NOT NULL,
  permission_id bigint(20) unsigned NOT NULL,
  user_id bigint(20) unsigned DEFAULT NULL,
  user_ip_address varchar(100) DEFAULT '',
  PRIMARY KEY (download_log_id),
  KEY permission_id (permission_id),
  CONSTRAINT fk_wp_wc_download_log_permission_id FOREIGN KEY (permission_id)
    REFERENCES wp_woocommerce_downloadable_product_permissions (permission_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_520_ci;

-- A security plugin's table (Wordfence keeps addresses as binary(16)): bytes
-- that are no valid text in any character set.
CREATE TABLE wp_wfhits (
  id int(10) unsigned NOT NULL AUTO_INCREMENT,
  IP binary(16) DEFAULT NULL,
  payload blob,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A plugin's trigger and function, kept by --triggers and --routines.
CREATE TRIGGER wp_wc_orders_touch BEFORE UPDATE ON wp_wc_orders
  FOR EACH ROW SET NEW.date_updated_gmt = UTC_TIMESTAMP();
CREATE FUNCTION wp_order_total_cents(total decimal(26,8)) RETURNS bigint DETERMINISTIC
  RETURN ROUND(total * 100);
"""

BLOGNAME = "Café Ünïcödé — 商店 🛒"
CUSTOMER = "Zoë Ødegård"
# PHP's serialize() counts bytes: "€" is 3.
SETTINGS = 'a:2:{s:8:"currency";s:3:"EUR";s:6:"symbol";s:3:"€";}'

DATA = (
    """
INSERT INTO wp_options (option_name, option_value, autoload) VALUES
  ('siteurl', 'https://shop.example.org', 'yes'),
  ('blogname', '@BLOGNAME@', 'yes'),
  ('woocommerce_settings', '@SETTINGS@', 'yes');
INSERT INTO wp_users (ID, user_login, user_pass, user_nicename, user_email, user_registered, display_name) VALUES
  (1, 'admin', '$P$Bz0cVDRT3yUDo6Z9m1tE9oQ5hG6XAz/', 'admin', 'admin@example.org', '2024-01-01 10:00:00', 'Admin'),
  (2, 'zoe', '$P$BZoe0000000000000000000000000000', 'zoe', 'zoe@example.org', '2024-02-02 11:00:00', '@CUSTOMER@');
INSERT INTO wp_posts (ID, post_author, post_date, post_date_gmt, post_content, post_title, post_excerpt,
    post_name, to_ping, pinged, post_content_filtered, post_type, guid) VALUES
  (10, 1, '2024-03-01 09:00:00', '2024-03-01 08:00:00', '<p>Handgemachte Kaffeetasse, 300 ml.</p>',
   'Kaffeetasse „Möwe“', '', 'kaffeetasse-mowe', '', '', '', 'product', 'https://shop.example.org/?p=10'),
  (101, 2, '2024-03-02 09:00:00', '2024-03-02 08:00:00', '', 'Order A', '', '', '', '', '', 'shop_order_placehold', '');
INSERT INTO wp_postmeta (post_id, meta_key, meta_value) VALUES
  (10, '_price', '19.90'), (10, '_sku', 'MUG-MOWE'), (10, '_stock', '42'),
  (10, '_product_attributes', 'a:1:{s:5:"farbe";a:2:{s:4:"name";s:5:"Farbe";s:5:"value";s:8:"Weiß";}}');
INSERT INTO wp_wc_orders (id, status, currency, type, tax_amount, total_amount, customer_id, billing_email,
    date_created_gmt, date_updated_gmt, payment_method, payment_method_title, ip_address, user_agent, customer_note)
  VALUES (101, 'wc-processing', 'EUR', 'shop_order', 3.18, 19.90, 2, 'zoe@example.org',
    '2024-03-02 08:00:00', '2024-03-02 08:00:00', 'cod', 'Nachnahme', '192.0.2.7', 'Mozilla/5.0',
    'Bitte an der Tür klingeln 🔔');
INSERT INTO wp_woocommerce_order_items (order_item_id, order_item_name, order_item_type, order_id) VALUES
  (1, 'Kaffeetasse „Möwe“', 'line_item', 101);
INSERT INTO wp_woocommerce_order_itemmeta (order_item_id, meta_key, meta_value) VALUES
  (1, '_product_id', '10'), (1, '_qty', '1'), (1, '_line_total', '16.72');
INSERT INTO wp_woocommerce_downloadable_product_permissions
    (permission_id, download_id, product_id, order_id, user_email)
  VALUES (1, '3f9c2b1e-0000-4000-8000-000000000001', 10, 101, 'zoe@example.org');
INSERT INTO wp_wc_download_log (timestamp, permission_id, user_id, user_ip_address)
  VALUES ('2024-03-02 09:00:00', 1, 2, '192.0.2.7');
""".replace("@BLOGNAME@", BLOGNAME)
    .replace("@SETTINGS@", SETTINGS)
    .replace("@CUSTOMER@", CUSTOMER)
)

ORDER_B = """
INSERT INTO wp_posts (ID, post_author, post_content, post_title, post_excerpt, to_ping, pinged,
    post_content_filtered, post_type) VALUES (102, 2, '', 'Order B', '', '', '', '', 'shop_order_placehold');
INSERT INTO wp_wc_orders (id, status, currency, type, total_amount, customer_id, billing_email, date_created_gmt)
  VALUES (102, 'wc-pending', 'EUR', 'shop_order', 39.80, 2, 'zoe@example.org', '2024-03-03 08:00:00');
INSERT INTO wp_woocommerce_order_items (order_item_id, order_item_name, order_item_type, order_id) VALUES
  (2, 'Kaffeetasse „Möwe“', 'line_item', 102);
INSERT INTO wp_woocommerce_order_itemmeta (order_item_id, meta_key, meta_value) VALUES (2, '_qty', '2');
UPDATE wp_options SET option_value = 'Renamed after the backup' WHERE option_name = 'blogname';
DELETE FROM wp_woocommerce_downloadable_product_permissions;
-- A plugin installed after the backup: its table, a view over it, a procedure.
CREATE TABLE wp_newplugin_log (id int PRIMARY KEY, message text) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO wp_newplugin_log VALUES (1, 'made after the backup');
CREATE VIEW wp_newplugin_recent AS SELECT id, message FROM wp_newplugin_log;
CREATE PROCEDURE wp_newplugin_purge() DELETE FROM wp_newplugin_log;
"""


@dataclass(frozen=True)
class MariaDB:
    socket: Path
    port: int
    admin: str

    def sql(self, statements: str, database: str = DATABASE, user: str | None = None, password: str | None = None):
        """Runs SQL as the administrator (over the socket), or as `user` over TCP; returns rows of text."""
        if user is None:
            args = ["mariadb", "--no-defaults", f"--socket={self.socket}", f"--user={self.admin}"]
        else:
            args = ["mariadb", "--no-defaults", "--host=127.0.0.1", f"--port={self.port}", f"--user={user}"]
            args.append(f"--password={password}")
        args += ["--batch", "--skip-column-names", "--default-character-set=utf8mb4", database]
        proc = subprocess.run(args, input=statements, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
        return [line.split("\t") for line in proc.stdout.splitlines()]


def sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    for tool in ("mariadbd", "mariadb-install-db", "mariadb", "mariadb-dump"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: `make system-packages` installs Debian's mariadb-server, mariadb-client")
    base = tmp_path_factory.mktemp("mariadb")
    data, sock, log = base / "data", base / "mariadbd.sock", base / "mariadbd.log"
    admin = getpass.getuser()
    # The administrator (the current user) logs in over the socket by its
    # system identity; mariadbd refuses to run as root unless told to.
    common = ["--no-defaults", f"--datadir={data}", f"--user={admin}"]
    fast = ["--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0", "--skip-name-resolve"]
    subprocess.run(
        ["mariadb-install-db", *common, "--auth-root-authentication-method=socket", "--skip-test-db", *fast],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = free_port()
    server = subprocess.Popen(
        [
            "mariadbd",
            *common,
            f"--socket={sock}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            f"--pid-file={base / 'mariadbd.pid'}",
            f"--log-error={log}",
            *fast,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: sock.exists() or server.poll() is not None, 60, "mariadbd's socket")
        assert server.poll() is None, log.read_text()
        db = MariaDB(socket=sock, port=port, admin=admin)
        # What the official image's entrypoint does with MARIADB_USER and MARIADB_DATABASE.
        db.sql(
            f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci;"
            f"CREATE USER '{USER}'@'%' IDENTIFIED BY {sql_string(PASSWORD)};"
            f"GRANT ALL ON `{DATABASE}`.* TO '{USER}'@'%';",
            database="mysql",
        )
        yield db
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture
def store_db(mariadb):
    """The store's database, made afresh by the store's user (the objects' definer is that user, as in a store)."""
    mariadb.sql(f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4;", "mysql")
    mariadb.sql(SCHEMA + DATA, user=USER, password=PASSWORD)
    # 256 bytes, every value once, and an IPv6-mapped address.
    mariadb.sql(
        "INSERT INTO wp_wfhits (IP, payload) SELECT UNHEX('00000000000000000000FFFFC0000207'), "
        "GROUP_CONCAT(CHAR(seq) ORDER BY seq SEPARATOR '') FROM seq_0_to_255"
    )
    return mariadb


def script_env(db: MariaDB, backup_dir: Path, password: str = PASSWORD) -> dict[str, str]:
    return {
        "BACKUP_DIR": str(backup_dir),
        "HOME": str(backup_dir),
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(db.port),
        "MARIADB_USER": USER,
        "MARIADB_PASSWORD": password,
        "MARIADB_DATABASE": DATABASE,
    }


def snapshot(db: MariaDB) -> dict[str, object]:
    """Everything that makes the database what it is: its objects' definitions and every table's checksum."""
    objects = db.sql(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = DATABASE() "
        "UNION ALL SELECT routine_name, routine_type FROM information_schema.routines "
        "WHERE routine_schema = DATABASE() "
        "UNION ALL SELECT trigger_name, 'TRIGGER' FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
        "ORDER BY 1"
    )
    tables = [name for name, kind in objects if kind == "BASE TABLE"]
    checksums = db.sql(f"CHECKSUM TABLE {', '.join(tables)} EXTENDED")
    definitions = [db.sql(f"SHOW CREATE TABLE `{name}`")[0][1] for name in tables]
    return {"objects": objects, "checksums": checksums, "definitions": definitions}


def test_a_dump_and_its_restore_bring_back_the_database_as_it_was(store_db, tmp_path):
    db = store_db
    before = snapshot(db)

    dumped = run_script("mariadb-dump.sh", env=script_env(db, tmp_path))
    assert dumped.returncode == 0, dumped.stderr
    archive = tmp_path / "database.sql.gz"
    assert f"dumped to {archive}" in dumped.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["database.sql.gz"]
    # The Job's other containers (the upload) may run as another user.
    assert archive.stat().st_mode & 0o044 == 0o044
    dump = gzip.decompress(archive.read_bytes()).decode()
    assert "LOCK TABLES" not in dump
    assert "CREATE DATABASE" not in dump and "\nUSE " not in dump
    assert "0x000102030405" in dump  # --hex-blob

    db.sql(ORDER_B, user=USER, password=PASSWORD)
    assert db.sql("SELECT id FROM wp_wc_orders ORDER BY id") == [["101"], ["102"]]

    restored = run_script("mariadb-restore.sh", env=script_env(db, tmp_path))
    assert restored.returncode == 0, restored.stderr

    assert db.sql("SELECT id FROM wp_wc_orders ORDER BY id") == [["101"]]
    assert db.sql("SELECT order_id FROM wp_woocommerce_order_items") == [["101"]]
    assert db.sql("SELECT COUNT(*) FROM wp_posts WHERE post_title = 'Order B'") == [["0"]]
    # The table, view and procedure made after the backup are gone.
    assert db.sql("SHOW TABLES LIKE 'wp_newplugin%'") == []
    assert db.sql("SHOW PROCEDURE STATUS WHERE Db = DATABASE()") == []
    # Text byte for byte (4-byte UTF-8 included), binary bytes as they were.
    assert db.sql("SELECT HEX(option_value) FROM wp_options WHERE option_name = 'blogname'") == [
        [BLOGNAME.encode().hex().upper()]
    ]
    assert db.sql("SELECT HEX(option_value) FROM wp_options WHERE option_name = 'woocommerce_settings'") == [
        [SETTINGS.encode().hex().upper()]
    ]
    assert db.sql("SELECT HEX(display_name) FROM wp_users WHERE ID = 2") == [[CUSTOMER.encode().hex().upper()]]
    assert db.sql("SELECT HEX(payload), HEX(IP) FROM wp_wfhits") == [
        [bytes(range(256)).hex().upper(), "00000000000000000000FFFFC0000207"]
    ]
    # The trigger, the function and the foreign key came back and work.
    assert db.sql("SELECT wp_order_total_cents(total_amount) FROM wp_wc_orders") == [["1990"]]
    assert snapshot(db) == before
    assert db.sql("SELECT COUNT(*) FROM wp_wc_download_log") == [["1"]]
    db.sql("DELETE FROM wp_woocommerce_downloadable_product_permissions", user=USER, password=PASSWORD)
    assert db.sql("SELECT COUNT(*) FROM wp_wc_download_log") == [["0"]]


def test_a_wrong_password_fails_the_dump_and_leaves_no_archive(store_db, tmp_path):
    # A stale archive from an earlier run must not pass for this one's.
    (tmp_path / "database.sql.gz").write_bytes(gzip.compress(b"-- Dump completed\n"))
    proc = run_script("mariadb-dump.sh", env=script_env(store_db, tmp_path, password="not-the-password"))
    assert proc.returncode != 0
    assert "Access denied" in proc.stderr
    assert "mariadb-dump of database 'wordpress' on 127.0.0.1" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_missing_variable_is_named(tmp_path):
    env = {"BACKUP_DIR": str(tmp_path), "DB_HOST": "127.0.0.1", "MARIADB_USER": USER, "MARIADB_DATABASE": DATABASE}
    proc = run_script("mariadb-dump.sh", env=env)
    assert proc.returncode == 1
    assert proc.stderr == "mariadb-dump.sh: MARIADB_PASSWORD is not set\n"


def test_a_damaged_archive_is_refused_before_anything_is_dropped(store_db, tmp_path):
    db = store_db
    assert run_script("mariadb-dump.sh", env=script_env(db, tmp_path)).returncode == 0
    archive = tmp_path / "database.sql.gz"
    whole = archive.read_bytes()
    db.sql(ORDER_B, user=USER, password=PASSWORD)

    archive.write_bytes(whole[: len(whole) // 2])
    proc = run_script("mariadb-restore.sh", env=script_env(db, tmp_path))
    assert proc.returncode == 1
    assert "is not a valid gzip file" in proc.stderr

    # A whole gzip file holding a dump cut short (the dump's last line missing).
    cut = gzip.decompress(whole).decode().rsplit("\n-- Dump completed", 1)[0]
    archive.write_bytes(gzip.compress(cut.encode()))
    proc = run_script("mariadb-restore.sh", env=script_env(db, tmp_path))
    assert proc.returncode == 1
    assert "a cut-short dump" in proc.stderr

    assert db.sql("SELECT id FROM wp_wc_orders ORDER BY id") == [["101"], ["102"]]
    assert db.sql("SHOW TABLES LIKE 'wp_newplugin_log'") == [["wp_newplugin_log"]]


def test_the_password_is_never_on_a_command_line(store_db, tmp_path):
    """While the dump waits on a table another session has locked, no process's
    command line (what `ps` shows) holds the password."""
    db = store_db
    locker = subprocess.Popen(
        ["mariadb", "--no-defaults", f"--socket={db.socket}", f"--user={db.admin}", "--unbuffered", DATABASE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    dump = None
    try:
        locker.stdin.write("LOCK TABLES wp_wfhits WRITE; SELECT 'locked';\n")
        locker.stdin.flush()
        assert locker.stdout.readline().strip() == "locked"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **script_env(db, tmp_path)}
        dump = subprocess.Popen(
            ["sh", str(Path(__file__).resolve().parents[2] / "stores/backups/scripts/mariadb-dump.sh")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _wait_for(
            lambda: (
                db.sql(
                    "SELECT COUNT(*) FROM information_schema.processlist "
                    "WHERE user = 'wordpress' AND state = 'Waiting for table metadata lock'",
                    "mysql",
                )
                == [["1"]]
            ),
            30,
            "the dump to wait on the locked table",
        )
        command_lines = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    command_lines.append((Path("/proc") / pid / "cmdline").read_bytes().replace(b"\0", b" ").decode())
                except OSError:
                    continue
        (dump_line,) = [line for line in command_lines if line.startswith("mariadb-dump ")]
        # The password is in an option file only its owner may read.
        option_file = Path(dump_line.split()[1].removeprefix("--defaults-extra-file="))
        assert stat.S_IMODE(option_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(option_file.parent.stat().st_mode) == 0o700
        assert not [line for line in command_lines if PASSWORD.strip() in line or "p#ss" in line]
    finally:
        locker.stdin.write("UNLOCK TABLES;\n")
        locker.stdin.close()
        locker.wait(timeout=30)
        if dump is not None:
            _, err = dump.communicate(timeout=60)
    assert dump.returncode == 0, err
