"""Log lines as JSON objects (``PARLEY_LOG_FORMAT=json``): Django's, Parley's and uvicorn's alike.

One object per line, on stderr: ``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``msg``, ``pid``,
``conn`` on every line logged while a WebSocket is handled (its connection id, also on uvicorn's
``"WebSocket /ws/" [accepted]`` line), ``exc`` with the traceback, and any ``extra=`` fields.
uvicorn's access lines also carry ``client``, ``method``, ``path``, ``http_version``, ``status``.

The connection id lives in a context variable set where the WebSocket enters the application
(parley.realtime.runtime.RuntimeApp): everything that runs in that connection's task sees it,
and tasks that serve many connections start in a clean context.
"""

from __future__ import annotations

import logging
import os
import secrets
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from parley.core import json

FORMATS = ("plain", "json")

connection_id: ContextVar[str | None] = ContextVar("parley_connection_id", default=None)


def new_connection_id() -> str:
    """Short, random, unique enough to grep one connection's lines out of a day of logs."""
    return secrets.token_hex(6)


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
# uvicorn adds color_message (its message with terminal colours) to some records: not for JSON.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}
_ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process or os.getpid(),
        }
        conn = connection_id.get()
        if conn is not None:
            entry["conn"] = conn
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            entry.update(zip(_ACCESS_FIELDS, record.args, strict=True))
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value if isinstance(value, str | int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry)


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise ValueError(f"PARLEY_LOG_FORMAT={value!r}: use one of {', '.join(FORMATS)}")
    return value


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's ``log_config``: None keeps uvicorn's own (plain); ``json`` sends its error and
    access loggers through ``JsonFormatter`` from the first line, in every worker process."""
    if check_format(log_format) == "plain":
        return None
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "parley.core.logs.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {name: {"handlers": ["json"], "level": "INFO", "propagate": False} for name in UVICORN_LOGGERS},
    }


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def announce(text: str, log_format: str) -> None:
    """A line for the operator before logging is set up (bin/serve's banner), in the log format."""
    if log_format == "json":
        text = json.dumps(
            {
                "ts": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "level": "INFO",
                "logger": "parley.serve",
                "msg": text,
                "pid": os.getpid(),
            }
        )
    print(text, flush=True)
