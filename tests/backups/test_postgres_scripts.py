"""The Medusa backup scripts (postgres-dump.sh, postgres-restore.sh) against a
real PostgreSQL server: Debian's, private to this module (scripts/postgres.sh's
way: initdb and pg_ctl, run as the `postgres` user when the tests run as root),
with a role `medusa` that is no superuser but owns database `medusa`, and a
Medusa-shaped schema in it.

The scripts connect over TCP with a password, as the backup Job does to the
store's database Service; the checks connect as the superuser over the socket."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backups.support import free_port, run_script

# It never touches the platform's database; `make test` runs it in its SQLite pass, to even out
# the two passes (pytest.ini, scripts/test.sh).
pytestmark = pytest.mark.sqlite_pass

DATABASE = "medusa"
USER = "medusa"
PASSWORD = "s3cret 'with' \"quotes\" \\ and spaces"

SCHEMA = """
CREATE TYPE order_status_enum AS ENUM ('pending', 'completed', 'draft', 'archived', 'canceled', 'requires_action');

CREATE TABLE mikro_orm_migrations (
  id serial PRIMARY KEY,
  name varchar(255),
  executed_at timestamptz DEFAULT now()
);

CREATE TABLE "order" (
  id text PRIMARY KEY,
  region_id text,
  display_id serial,
  customer_id text,
  version integer NOT NULL DEFAULT 1,
  sales_channel_id text,
  status order_status_enum NOT NULL DEFAULT 'pending',
  is_draft_order boolean NOT NULL DEFAULT false,
  email text,
  currency_code text NOT NULL,
  no_notification boolean,
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz,
  canceled_at timestamptz
);
CREATE INDEX "IDX_order_display_id" ON "order" (display_id) WHERE deleted_at IS NULL;
CREATE INDEX "IDX_order_customer_id" ON "order" (customer_id) WHERE deleted_at IS NULL;

CREATE TABLE order_line_item (
  id text PRIMARY KEY,
  title text NOT NULL,
  subtitle text,
  thumbnail text,
  variant_id text,
  product_id text,
  variant_sku text,
  unit_price numeric NOT NULL,
  raw_unit_price jsonb NOT NULL,
  is_tax_inclusive boolean NOT NULL DEFAULT false,
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);

CREATE TABLE order_item (
  id text PRIMARY KEY,
  order_id text NOT NULL REFERENCES "order" (id) ON UPDATE CASCADE ON DELETE CASCADE,
  version integer NOT NULL,
  item_id text NOT NULL REFERENCES order_line_item (id) ON UPDATE CASCADE ON DELETE CASCADE,
  quantity numeric NOT NULL,
  raw_quantity jsonb NOT NULL,
  fulfilled_quantity numeric NOT NULL DEFAULT 0,
  raw_fulfilled_quantity jsonb NOT NULL DEFAULT '{"value": "0", "precision": 20}',
  metadata jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX "IDX_order_item_order_id" ON order_item (order_id) WHERE deleted_at IS NULL;

-- A view and a trigger function, as a module's migrations may make.
CREATE VIEW open_orders AS SELECT id, display_id, email FROM "order" WHERE status = 'pending';
CREATE FUNCTION touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN NEW.updated_at = now(); RETURN NEW; END $$;
CREATE TRIGGER order_touch BEFORE UPDATE ON "order" FOR EACH ROW EXECUTE FUNCTION touch_updated_at();

INSERT INTO mikro_orm_migrations (name) VALUES ('Migration20240101000000'), ('Migration20240301000000');
"""

ORDER_A = """
INSERT INTO "order" (id, region_id, customer_id, email, currency_code, metadata) VALUES
  ('order_01A', 'reg_01EU', 'cus_01ZOE', 'zoë@example.org', 'eur',
   '{"note": "Bitte an der Tür klingeln 🔔", "gift": true, "tags": ["café", "商店"]}');
INSERT INTO order_line_item (id, title, variant_sku, unit_price, raw_unit_price, metadata) VALUES
  ('ordli_01A', 'Kaffeetasse „Möwe“', 'MUG-MOWE', 19.9, '{"value": "19.9", "precision": 20}', '{"farbe": "Weiß"}');
INSERT INTO order_item (id, order_id, version, item_id, quantity, raw_quantity) VALUES
  ('orditem_01A', 'order_01A', 1, 'ordli_01A', 1, '{"value": "1", "precision": 20}');
"""

ORDER_B = """
INSERT INTO "order" (id, email, currency_code, metadata) VALUES ('order_01B', 'late@example.org', 'eur', '{}');
INSERT INTO order_line_item (id, title, unit_price, raw_unit_price) VALUES
  ('ordli_01B', 'Teekanne', 45, '{"value": "45", "precision": 20}');
INSERT INTO order_item (id, order_id, version, item_id, quantity, raw_quantity) VALUES
  ('orditem_01B', 'order_01B', 1, 'ordli_01B', 2, '{"value": "2", "precision": 20}');
UPDATE "order" SET status = 'completed' WHERE id = 'order_01A';
INSERT INTO mikro_orm_migrations (name) VALUES ('Migration20240601000000');
-- A module installed after the backup: its own type, table, sequence, view, function and schema.
CREATE TYPE loyalty_tier AS ENUM ('bronze', 'gold');
CREATE TABLE loyalty_point (id serial PRIMARY KEY, customer_id text, tier loyalty_tier, points integer);
INSERT INTO loyalty_point (customer_id, tier, points) VALUES ('cus_01ZOE', 'gold', 120);
CREATE VIEW loyalty_leaders AS SELECT customer_id FROM loyalty_point WHERE points > 100;
CREATE FUNCTION loyalty_points(customer text) RETURNS bigint LANGUAGE sql
  AS $$ SELECT sum(points) FROM loyalty_point WHERE customer_id = customer $$;
CREATE SCHEMA loyalty_archive;
CREATE TABLE loyalty_archive.old_points (id int);
"""


# Passwords over TCP, as the store's server asks of the backup Job; no fsync for test data.
INITDB_OPTIONS = ["--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name))
    if not found:
        pytest.fail("PostgreSQL is missing: `make system-packages` installs Debian's postgresql")
    return Path(found[-1])


@dataclass(frozen=True)
class Postgres:
    bin: Path
    socket_dir: Path
    port: int

    def login(self, user: str, database: str) -> list[str]:
        return [f"--port={self.port}", f"--username={user}", f"--dbname={database}"]

    def sql(self, statements: str, database: str = DATABASE, user: str = "postgres") -> list[str]:
        """Runs SQL as `user` (the superuser unless told) over the socket; returns the output's lines."""
        proc = subprocess.run(
            [
                str(self.bin / "psql"),
                "-XqAt",
                "-v",
                "ON_ERROR_STOP=1",
                f"--host={self.socket_dir}",
                *self.login(user, database),
            ],
            input=statements,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()


@pytest.fixture(scope="module")
def postgres():
    bin_dir = _pg_bin()
    # Postgres refuses to run as root: as root, the server runs as Debian's
    # `postgres` user, which must reach its directory (pytest's own temporary
    # directories are private to root).
    as_root = os.geteuid() == 0
    run_as = {"user": "postgres"} if as_root else {}
    base = Path(tempfile.mkdtemp(prefix="backup-scripts-pg-"))
    if as_root:
        shutil.chown(base, "postgres", "postgres")
    data, log = base / "data", base / "server.log"
    port = free_port()
    try:
        subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth-local=trust", *INITDB_OPTIONS],
            check=True,
            capture_output=True,
            timeout=120,
            **run_as,
        )
        options = f"-p {port} -h 127.0.0.1 -k {base} -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "start", "-o", options],
            check=True,
            capture_output=True,
            timeout=90,
            **run_as,
        )
        pg = Postgres(bin=bin_dir, socket_dir=base, port=port)
        pg.sql(
            f"CREATE ROLE {USER} LOGIN PASSWORD {quote(PASSWORD)}; CREATE DATABASE {DATABASE} OWNER {USER};", "postgres"
        )
        yield pg
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            **run_as,
        )
        shutil.rmtree(base, ignore_errors=True)


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@pytest.fixture
def store_db(postgres):
    """The store's database, made afresh by the store's user with order A in it."""
    postgres.sql(f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE} OWNER {USER};", "postgres")
    postgres.sql(SCHEMA + ORDER_A, user=USER)
    return postgres


def script_env(pg: Postgres, backup_dir: Path, password: str = PASSWORD) -> dict[str, str]:
    return {
        # The server's own client tools first, as in the store's postgres image.
        "PATH": f"{pg.bin}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "BACKUP_DIR": str(backup_dir),
        "HOME": str(backup_dir),
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(pg.port),
        "POSTGRES_USER": USER,
        "POSTGRES_PASSWORD": password,
        "POSTGRES_DB": DATABASE,
    }


SNAPSHOT = """
SELECT json_build_object(
  'objects', (SELECT json_agg(x ORDER BY x) FROM (
      SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text AS x
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
      UNION ALL SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE n.nspname = 'public'
      UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
      UNION ALL SELECT 'trigger ' || tgname FROM pg_trigger WHERE NOT tgisinternal
      UNION ALL SELECT 'schema ' || nspname FROM pg_namespace) AS objects),
  'orders', (SELECT json_agg(o ORDER BY id) FROM "order" o),
  'line_items', (SELECT json_agg(l ORDER BY id) FROM order_line_item l),
  'items', (SELECT json_agg(i ORDER BY id) FROM order_item i),
  'migrations', (SELECT json_agg(m ORDER BY id) FROM mikro_orm_migrations m),
  'sequences', (SELECT json_agg(s ORDER BY sequencename) FROM pg_sequences s WHERE schemaname = 'public'),
  'owners', (SELECT json_agg(DISTINCT pg_get_userbyid(relowner)) FROM pg_class
              WHERE relnamespace = 'public'::regnamespace)
)
"""


def snapshot(pg: Postgres) -> dict:
    return json.loads("\n".join(pg.sql(SNAPSHOT)))


def test_a_dump_and_its_restore_bring_back_the_database_as_it_was(store_db, tmp_path):
    pg = store_db
    before = snapshot(pg)

    dumped = run_script("postgres-dump.sh", env=script_env(pg, tmp_path))
    assert dumped.returncode == 0, dumped.stderr
    assert f"dumped to {tmp_path / 'database.dump'}" in dumped.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["database.dump"]
    assert (tmp_path / "database.dump").read_bytes()[:5] == b"PGDMP"  # the custom format

    pg.sql(ORDER_B, user=USER)
    assert pg.sql('SELECT id FROM "order" ORDER BY id') == ["order_01A", "order_01B"]

    restored = run_script("postgres-restore.sh", env=script_env(pg, tmp_path))
    assert restored.returncode == 0, restored.stderr
    assert restored.stderr == ""

    assert pg.sql('SELECT id, status FROM "order" ORDER BY id') == ["order_01A|pending"]
    assert pg.sql("SELECT order_id FROM order_item") == ["order_01A"]
    # What was made after the backup is gone: the table, its type, view and
    # function, and the schema.
    assert pg.sql(
        "SELECT to_regclass('loyalty_point'), to_regclass('loyalty_leaders'), to_regtype('loyalty_tier')"
    ) == ["||"]
    assert pg.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'loyalty_archive'") == ["0"]
    # Text and jsonb byte for byte.
    assert pg.sql("""SELECT email, metadata->>'note', metadata->'tags'->>1 FROM "order" """) == [
        "zoë@example.org|Bitte an der Tür klingeln 🔔|商店"
    ]
    # Everything else as it was: rows, sequences (the next display_id), the
    # view, the trigger and its function, the objects' owner (the store's user).
    after = snapshot(pg)
    assert after == before
    assert after["owners"] == [USER]
    # The restored database works for the store: new orders get the next display_id.
    pg.sql("""INSERT INTO "order" (id, currency_code) VALUES ('order_01C', 'eur')""", user=USER)
    assert pg.sql("""SELECT display_id FROM "order" WHERE id = 'order_01C'""") == ["2"]


def test_restoring_twice_gives_the_same_database(store_db, tmp_path):
    pg = store_db
    assert run_script("postgres-dump.sh", env=script_env(pg, tmp_path)).returncode == 0
    before = snapshot(pg)
    for _ in range(2):
        proc = run_script("postgres-restore.sh", env=script_env(pg, tmp_path))
        assert proc.returncode == 0, proc.stderr
        assert snapshot(pg) == before


def test_a_restore_that_fails_leaves_the_database_as_it_was(store_db, tmp_path):
    """The archive's table of contents is whole but its data is cut short:
    pg_restore fails after the drops ran, and the transaction is rolled back."""
    pg = store_db
    assert run_script("postgres-dump.sh", env=script_env(pg, tmp_path)).returncode == 0
    pg.sql(ORDER_B, user=USER)
    before = snapshot(pg)

    dump = tmp_path / "database.dump"
    dump.write_bytes(dump.read_bytes()[:-200])
    proc = run_script("postgres-restore.sh", env=script_env(pg, tmp_path))
    assert proc.returncode == 1
    assert "could not read all of" in proc.stderr
    assert "the database is as it was before" in proc.stderr
    assert snapshot(pg) == before
    assert pg.sql("SELECT count(*) FROM loyalty_point") == ["1"]

    dump.write_bytes(b"not a dump")
    proc = run_script("postgres-restore.sh", env=script_env(pg, tmp_path))
    assert proc.returncode == 1
    assert "is not a dump pg_restore can read" in proc.stderr
    assert snapshot(pg) == before


def test_a_wrong_password_fails_the_dump_and_leaves_no_archive(store_db, tmp_path):
    (tmp_path / "database.dump").write_bytes(b"PGDMP from an earlier run")
    proc = run_script("postgres-dump.sh", env=script_env(store_db, tmp_path, password="not-the-password"))
    assert proc.returncode == 1
    assert "password authentication failed" in proc.stderr
    assert "pg_dump of database 'medusa' on 127.0.0.1" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_dump_waits_for_a_database_that_answers_late_and_gives_up_on_one_that_never_does(store_db, tmp_path):
    # A new pod is let through to its database a moment after it starts: the dump waits.
    env = {**script_env(store_db, tmp_path), "DB_PORT": str(free_port()), "DB_WAIT_SECONDS": "2"}
    proc = run_script("postgres-dump.sh", env=env)
    assert proc.returncode == 1
    assert f"the database server at 127.0.0.1:{env['DB_PORT']} does not answer (waited 2 s)" in proc.stderr
    assert list(tmp_path.iterdir()) == []

    # A server reachable through a relay that opens after 3 s: the dump goes through.
    relay_port = free_port()
    relay = _late_relay(relay_port, store_db.port, after=3)
    try:
        proc = run_script("postgres-dump.sh", env={**script_env(store_db, tmp_path), "DB_PORT": str(relay_port)})
    finally:
        relay.close()
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "database.dump").stat().st_size > 0


def _late_relay(port: int, target: int, *, after: float):
    """A TCP relay to 127.0.0.1:`target` that starts listening on `port` only after `after` seconds."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    stop = threading.Event()

    def pipe(a, b):
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (a, b):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def serve():
        if stop.wait(after):
            return
        server.bind(("127.0.0.1", port))
        server.listen()
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", target))
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()

    class Relay:
        def close(self):
            stop.set()
            server.close()

    return Relay()


def test_a_missing_variable_is_named(tmp_path):
    proc = run_script("postgres-restore.sh", env={"BACKUP_DIR": str(tmp_path), "DB_HOST": "db"})
    assert proc.returncode == 1
    assert proc.stderr == "postgres-restore.sh: POSTGRES_USER is not set\n"


SYSTEM_OBJECTS = """
SELECT count(*) FROM pg_proc WHERE pronamespace <> 'public'::regnamespace;
SELECT count(*) FROM pg_class WHERE relnamespace IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace);
SELECT nspname FROM pg_namespace WHERE nspname <> 'loyalty_archive' ORDER BY 1;
SELECT extname FROM pg_extension ORDER BY 1;
"""


def test_the_servers_superuser_restores_as_well(store_db, tmp_path):
    """In the Medusa chart the store's user is the official image's
    POSTGRES_USER, the server's superuser: the drops must leave the system's
    schemas and extensions alone for it too."""
    pg = store_db
    pg.sql(f"CREATE ROLE store_admin SUPERUSER LOGIN PASSWORD {quote(PASSWORD)}", "postgres")
    try:
        env = {**script_env(pg, tmp_path), "POSTGRES_USER": "store_admin"}
        assert run_script("postgres-dump.sh", env=env).returncode == 0
        pg.sql(ORDER_B, user=USER)
        system = pg.sql(SYSTEM_OBJECTS)

        proc = run_script("postgres-restore.sh", env=env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        assert pg.sql('SELECT id FROM "order" ORDER BY id') == ["order_01A"]
        assert pg.sql("SELECT to_regclass('loyalty_point'), to_regnamespace('loyalty_archive')") == ["|"]
        assert pg.sql(SYSTEM_OBJECTS) == system
    finally:
        pg.sql("DROP OWNED BY store_admin")
        pg.sql("DROP ROLE store_admin", "postgres")
