"""The one place that reads the process environment.

Settings modules call these helpers; application code reads ``django.conf.settings``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import dj_database_url


class EnvError(RuntimeError):
    """A required or malformed environment variable."""


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name)
    if value is None or value == "":
        if default is None:
            raise EnvError(f"environment variable {name} is required")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise EnvError(f"{name}={value!r} is not a boolean (use 1/0, true/false, on/off)")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise EnvError(f"{name}={value!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


@dataclass(frozen=True)
class DatabaseLimits:
    """How much of PostgreSQL one process may use, and how long it waits for it."""

    pool_min: int = 1
    pool_max: int = 8  # connections one process holds at most
    pool_timeout: float = 1.0  # seconds a caller waits for a free connection
    connect_timeout: int = 2  # seconds to open a connection (libpq's minimum is 2)
    statement_timeout_ms: int = 2000  # 0: none (server-side statement_timeout)


def database_from_url(url: str, *, base_dir: Path, limits: DatabaseLimits | None = None) -> dict[str, Any]:
    """A DATABASES entry from ``DATABASE_URL`` (parsed by dj-database-url: query options such as
    ``?sslmode=require`` are kept as connection options).

    ``sqlite:///relative/path`` is relative to ``base_dir``, ``sqlite:////absolute/path`` is
    absolute, and either gets Parley's SQLite options (WAL, IMMEDIATE transactions). PostgreSQL
    gets Parley's backend (deadlines on every round trip, parley.core.postgres), a bounded pool
    of connections and connect and statement timeouts; a socket directory is given as the host,
    percent-encoded (``postgres://%2Frun%2Fpostgresql/parley``) or as ``?host=/run/postgresql``.
    """
    limits = limits or DatabaseLimits()
    try:
        parsed: dict[str, Any] = dict(dj_database_url.parse(url))
    except ValueError as exc:
        raise EnvError(f"DATABASE_URL is not a database URL: {exc}") from None
    engine = parsed.get("ENGINE")
    options: dict[str, Any] = dict(parsed.get("OPTIONS") or {})
    if engine == "django.db.backends.sqlite3":
        raw = urlsplit(url).path
        # sqlite:///relative/path and sqlite:////absolute/path, as dj-database-url reads them.
        name = unquote(raw[1:] if raw.startswith("/") else raw)
        if not name:
            raise EnvError("DATABASE_URL sqlite:// needs a file path (sqlite:///var/parley.sqlite3)")
        path = Path(name)
        if not path.is_absolute():
            path = base_dir / path
        database = sqlite_database(path)
        database["OPTIONS"].update(options)
        return database
    if engine != "django.db.backends.postgresql":
        scheme = urlsplit(url).scheme
        raise EnvError(f"DATABASE_URL scheme {scheme!r} is not supported (use sqlite:// or postgres://)")
    host = _socket_dir(url)
    if host:
        parsed["HOST"] = host
    options.setdefault("connect_timeout", limits.connect_timeout)
    if limits.statement_timeout_ms > 0:
        # The server cancels a statement that runs too long, and ends a session that sits in a
        # transaction without a word (a client cut off by a network partition holds row locks).
        idle_ms = max(10_000, 5 * limits.statement_timeout_ms)
        own = f"-c statement_timeout={limits.statement_timeout_ms} -c idle_in_transaction_session_timeout={idle_ms}"
        options["options"] = f"{options['options']} {own}" if options.get("options") else own
    options["pool"] = {
        "min_size": min(limits.pool_min, limits.pool_max),
        "max_size": limits.pool_max,
        "timeout": limits.pool_timeout,
        # A connection attempt that keeps failing gives up after this long; the next request
        # starts a fresh one at once, so the pool notices a returned database within seconds
        # (psycopg_pool's backoff alone would wait up to minutes after a long outage).
        "reconnect_timeout": 3.0,
    }
    return {
        "ENGINE": "parley.core.postgres",
        "NAME": parsed.get("NAME") or "postgres",
        "USER": parsed.get("USER", ""),
        "PASSWORD": parsed.get("PASSWORD", ""),
        "HOST": parsed.get("HOST", ""),
        "PORT": str(parsed.get("PORT") or ""),
        # The pool keeps connections; Django must hand each one back after every request and every
        # database_sync_to_async call (Django refuses persistent connections with a pool).
        "CONN_MAX_AGE": 0,
        "OPTIONS": options,
    }


def _socket_dir(url: str) -> str:
    """A percent-encoded socket directory in the host part, case kept (urlsplit lowercases hosts)."""
    netloc = urlsplit(url).netloc.rpartition("@")[2]
    if not netloc.lower().startswith("%2f"):
        return ""
    return unquote(netloc.rsplit(":", 1)[0] if re.search(r":\d+$", netloc) else netloc)


def sqlite_database(path: Path) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN so
            # two writers queue on the busy timeout instead of failing with "database is locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(path.with_name(path.stem + "-test.sqlite3"))},
    }
