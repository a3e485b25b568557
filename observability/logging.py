"""Log lines that say which store and which step they are about.

A worker runs one store's provision or delete at a time; while it does, the
store's id and slug and the running step sit in context variables, and a
filter on the console handler copies them onto every record that passes, from
our own loggers and from libraries alike. With `LOG_FORMAT=json` each line is
a JSON object (python-json-logger) carrying them as fields; the plain text
format is the one the platform always had.

Context variables rather than a LoggerAdapter: the lines worth having come
from everywhere below the task (the cluster layer, helm, the kubernetes
client), and none of those should have to be handed a logger.
"""

import logging
from contextlib import contextmanager
from contextvars import ContextVar

_store_id: ContextVar[int | None] = ContextVar("store_id", default=None)
_store_slug: ContextVar[str | None] = ContextVar("store_slug", default=None)
_step: ContextVar[str | None] = ContextVar("step", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
LOG_FORMATS = ("text", "json")


@contextmanager
def store_context(store_id: int, slug: str | None = None):
    """Tag every log line emitted inside the block with this store (and no step yet)."""
    id_token, slug_token, step_token = _store_id.set(store_id), _store_slug.set(slug), _step.set(None)
    try:
        yield
    finally:
        _step.reset(step_token)
        _store_slug.reset(slug_token)
        _store_id.reset(id_token)


def set_step(step: str | None) -> None:
    """The step running now; the enclosing `store_context` restores the previous one on exit."""
    _step.set(step or None)


class StoreContextFilter(logging.Filter):
    """Copies the current store and step onto each record (only when set: other lines stay as they were)."""

    def filter(self, record: logging.LogRecord) -> bool:
        store_id = _store_id.get()
        if store_id is not None:
            record.store_id = store_id
            record.store_slug = _store_slug.get()
            record.step = _step.get()
        return True


def logging_config(log_format: str, level: str) -> dict:
    """The LOGGING setting: one console handler, plain text or JSON lines."""
    formatters = {
        "text": {"format": TEXT_FORMAT},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "{levelname}{name}{message}",
            "style": "{",
            "timestamp": "time",  # ISO 8601, UTC
            "rename_fields": {"levelname": "level", "name": "logger"},
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"store_context": {"()": "observability.logging.StoreContextFilter"}},
        "formatters": {log_format: formatters[log_format]},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["store_context"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"kubernetes": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
    }
