"""DATABASE_URL: parsed by dj-database-url, with Parley's options for SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.env import DatabaseLimits, EnvError, database_from_url

BASE = Path("/srv/parley")


def test_sqlite_relative_and_absolute_paths_keep_wal_and_immediate() -> None:
    relative = database_from_url("sqlite:///var/parley.sqlite3", base_dir=BASE)
    absolute = database_from_url("sqlite:////data/chat.sqlite3", base_dir=BASE)
    assert relative["NAME"] == "/srv/parley/var/parley.sqlite3"
    assert absolute["NAME"] == "/data/chat.sqlite3"
    for database in (relative, absolute):
        assert database["ENGINE"] == "django.db.backends.sqlite3"
        assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
        assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        assert "pool" not in database["OPTIONS"]
    assert absolute["TEST"]["NAME"] == "/data/chat-test.sqlite3"


def test_sqlite_query_options_are_added() -> None:
    database = database_from_url("sqlite:///var/p.sqlite3?timeout=60", base_dir=BASE)
    assert database["OPTIONS"]["timeout"] == 60
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_postgres_url_with_credentials_port_and_query_options() -> None:
    database = database_from_url(
        "postgres://parley:s%40cr%2Fet@db.example.com:6432/chat?sslmode=require&application_name=parley",
        base_dir=BASE,
    )
    assert database["ENGINE"] == "parley.core.postgres"
    assert (database["USER"], database["PASSWORD"]) == ("parley", "s@cr/et")
    assert (database["HOST"], database["PORT"], database["NAME"]) == ("db.example.com", "6432", "chat")
    options = database["OPTIONS"]
    assert options["sslmode"] == "require"
    assert options["application_name"] == "parley"
    assert database["CONN_MAX_AGE"] == 0  # Django requires it with a pool


def test_postgres_gets_a_bounded_pool_and_timeouts() -> None:
    limits = DatabaseLimits(pool_min=2, pool_max=5, pool_timeout=0.75, connect_timeout=3, statement_timeout_ms=1500)
    options = database_from_url("postgresql://u@h/d", base_dir=BASE, limits=limits)["OPTIONS"]
    assert options["pool"]["min_size"] == 2 and options["pool"]["max_size"] == 5
    assert options["pool"]["timeout"] == 0.75
    assert options["connect_timeout"] == 3
    assert "-c statement_timeout=1500" in options["options"]
    assert "idle_in_transaction_session_timeout=" in options["options"]


def test_options_from_the_url_win_or_are_extended() -> None:
    url = "postgres://u@h/d?connect_timeout=10&options=-c%20search_path%3Dchat"
    options = database_from_url(url, base_dir=BASE)["OPTIONS"]
    assert options["connect_timeout"] == 10
    assert options["options"].startswith("-c search_path=chat ")
    assert "-c statement_timeout=2000" in options["options"]


def test_statement_timeout_zero_sets_none() -> None:
    options = database_from_url("postgres://u@h/d", base_dir=BASE, limits=DatabaseLimits(statement_timeout_ms=0))[
        "OPTIONS"
    ]
    assert "options" not in options


def test_socket_directory_as_host_keeps_its_case() -> None:
    encoded = database_from_url("postgres://parley@%2Fvar%2Frun%2FPostgreSQL/chat", base_dir=BASE)
    assert encoded["HOST"] == "/var/run/PostgreSQL"
    assert encoded["NAME"] == "chat"
    encoded_port = database_from_url("postgres://%2Frun%2Fpostgresql:5433/chat", base_dir=BASE)
    assert (encoded_port["HOST"], encoded_port["PORT"]) == ("/run/postgresql", "5433")
    query = database_from_url("postgres:///chat?host=/run/postgresql", base_dir=BASE)
    assert query["HOST"] == "" and query["OPTIONS"]["host"] == "/run/postgresql"


@pytest.mark.parametrize("url", ["mysql://u@h/d", "redis://localhost:6379/0", "not a url", "sqlite://"])
def test_unsupported_or_malformed_urls_get_a_clear_error(url: str) -> None:
    with pytest.raises(EnvError, match="DATABASE_URL"):
        database_from_url(url, base_dir=BASE)
