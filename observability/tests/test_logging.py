"""Log lines that carry the store and the step, as JSON lines when asked."""

import io
import json
import logging

import pytest
from django.utils.module_loading import import_string

from observability.logging import TEXT_FORMAT, logging_config, store_context
from provisioner.tests.settings_probe import run as _run
from provisioner.tests.settings_probe import settings_json as _settings_json
from stores import cluster, lifecycle, tasks


def _handler(log_format: str) -> tuple[logging.Handler, io.StringIO]:
    """The console handler LOGGING builds for `log_format`, writing to a buffer instead of stderr."""
    config = logging_config(log_format, "INFO")
    handler_spec = config["handlers"]["console"]
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    formatter_spec = dict(config["formatters"][handler_spec["formatter"]])
    factory = import_string(formatter_spec.pop("()")) if "()" in formatter_spec else None
    if factory:
        handler.setFormatter(factory(**formatter_spec))
    else:
        handler.setFormatter(logging.Formatter(formatter_spec["format"]))
    for name in handler_spec["filters"]:
        handler.addFilter(import_string(config["filters"][name]["()"])())
    return handler, buffer


@pytest.fixture
def capture_root():
    """Attach a LOGGING-built handler to the root logger for one test."""
    root = logging.getLogger()
    attached = []

    def attach(log_format):
        handler, buffer = _handler(log_format)
        root.addHandler(handler)
        attached.append(handler)
        return buffer

    level = root.level
    root.setLevel(logging.INFO)
    yield attach
    root.setLevel(level)
    for handler in attached:
        root.removeHandler(handler)


@pytest.mark.django_db
def test_it_logs_json_lines_with_the_store_and_step_of_a_provision(alice, fake_cluster, settings, capture_root):
    settings.CHECK_STORE_URL = False
    buffer = capture_root("json")
    store = lifecycle.create_store(alice, "acme", "woocommerce")
    lifecycle.claim_provision_slots()
    fake_cluster.wait_error = cluster.WorkloadFailed("pod store-wordpress-x: ErrImagePull: not found")
    logging.getLogger("elsewhere").info("before the run")

    tasks.provision(store.pk)
    logging.getLogger("elsewhere").info("after the run")

    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    by_message = {line["message"]: line for line in lines}
    done = next(line for line in lines if line["message"].startswith("Secret store-secret holds the store's"))
    assert done["store_id"] == store.pk
    assert done["store_slug"] == "acme"
    assert done["step"] == "credentials"
    assert done["level"] == "INFO" and done["logger"] == "stores.provisioning" and done["time"]
    steps = [line["step"] for line in lines if line.get("logger") == "stores.provisioning"]
    assert steps == ["namespace", "guardrails", "credentials", "release"]
    # Lines outside the run carry no store.
    assert "store_id" not in by_message["before the run"]
    assert "store_id" not in by_message["after the run"]


@pytest.mark.django_db
def test_it_tags_a_crash_with_the_step_it_happened_in(alice, fake_cluster, capture_root):
    buffer = capture_root("json")
    store = lifecycle.create_store(alice, "crashy", "woocommerce")
    lifecycle.claim_provision_slots()
    fake_cluster.wait_error = RuntimeError("a bug")

    tasks.provision(store.pk)

    crash = next(json.loads(line) for line in buffer.getvalue().splitlines() if "crashed" in line)
    assert crash["level"] == "ERROR"
    assert (crash["store_id"], crash["store_slug"], crash["step"]) == (store.pk, "crashy", "workloads")
    assert "RuntimeError: a bug" in crash["exc_info"]


def test_it_keeps_the_text_format_unchanged(capture_root):
    buffer = capture_root("text")

    with store_context(7, "acme"):
        logging.getLogger("stores.provisioning").info("Namespace store-acme is in place.")

    line = buffer.getvalue().rstrip("\n")
    assert TEXT_FORMAT == "%(asctime)s %(levelname)s %(name)s %(message)s"
    assert line.endswith(" INFO stores.provisioning Namespace store-acme is in place.")
    assert 'acme"' not in line and "{" not in line


def test_it_restores_the_context_after_a_nested_store():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    from observability.logging import StoreContextFilter, set_step

    with store_context(1, "outer"):
        set_step("release")
        with store_context(2, "inner"):
            set_step("namespace")
        StoreContextFilter().filter(record)
    assert (record.store_id, record.store_slug, record.step) == (1, "outer", "release")


def test_it_chooses_json_from_the_environment(tmp_path):
    config = _settings_json("settings.LOGGING", VAR_DIR=str(tmp_path), LOG_FORMAT="json")

    assert config["handlers"]["console"]["formatter"] == "json"
    assert config["formatters"]["json"]["()"] == "pythonjsonlogger.json.JsonFormatter"


def test_it_rejects_an_unknown_log_format(tmp_path):
    result = _run(["-c", "import django; django.setup()"], VAR_DIR=str(tmp_path), LOG_FORMAT="xml")

    assert result.returncode != 0
    assert "LOG_FORMAT must be text or json, not 'xml'" in result.stderr
