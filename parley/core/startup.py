"""What a production process does before it serves: collect static files, apply migrations.

Any number of processes may start at once, on one machine or many, on a new database:
``bin/start`` runs both steps in every process. Each step is safe to run concurrently:

- migrations run under a lock held in the database itself (PostgreSQL advisory lock, or a
  file lock beside the SQLite file); the first process applies them, the others wait and then
  find nothing to do. Without it, two processes plan the same migration and one dies with
  ``DuplicateTable``.
- static files are collected under a file lock, and only when their sources changed (a stamp of
  their content hashes lives in ``STATIC_ROOT``). Re-collecting an unchanged set is not harmless
  with the manifest storage: it deletes and rewrites ``staticfiles.json`` and every hashed CSS
  file, and a process that reads the manifest in that instant serves 500s until it restarts.
  Skipping also keeps ``STATIC_ROOT`` read-only friendly (an image that collected at build time).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command
from django.db import connections

# A fixed 64-bit key for pg_advisory_lock: every Parley process on a database agrees on it.
MIGRATE_LOCK_KEY = int.from_bytes(hashlib.sha256(b"parley.migrate").digest()[:8], "big", signed=True)
STAMP_NAME = "parley-collected.txt"
LOCK_NAME = "parley-collect.lock"
POLL_SECONDS = 0.2


class Writer(Protocol):
    """Where progress goes: a text stream, or a management command's stdout."""

    def write(self, text: str, /) -> Any: ...

    def flush(self) -> Any: ...


class StartupError(RuntimeError):
    """A start step could not run (the message says why and what to do)."""


# ---- locks ------------------------------------------------------------------------------------


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float, what: str, out: Writer) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing); released when the block ends or
    the process dies. Raises StartupError after ``timeout`` seconds of waiting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        _acquire(lambda: _try_flock(handle), timeout=timeout, what=what, holder=str(path), out=out)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_flock(handle: Any) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def database_lock(alias: str, *, timeout: float, out: Writer) -> Iterator[None]:
    """The migration lock of database ``alias``: a PostgreSQL session advisory lock on a
    connection of its own (whatever migrate does with Django's connection, the lock holds until
    this block ends or the process dies), or a file lock beside a SQLite database file."""
    connection = connections[alias]
    vendor = connection.vendor
    if vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            raise StartupError(f"cannot lock the SQLite database {name!r}: use a file path in DATABASE_URL")
        with file_lock(Path(name + ".migrate.lock"), timeout=timeout, what="the migration lock", out=out):
            yield
        return
    if vendor != "postgresql":
        raise StartupError(f"no migration lock for database vendor {vendor!r} (Parley supports sqlite, postgresql)")
    # A raw connection outside any pool Django may be configured with: the lock is tied to it.
    driver = connection.Database  # type: ignore[attr-defined]  # psycopg, as the backend loaded it
    try:
        raw = driver.connect(**connection.get_connection_params())
    except driver.Error as exc:
        raise StartupError(f"cannot connect to the database (DATABASE_URL): {' '.join(str(exc).split())}") from exc
    try:
        raw.autocommit = True

        def try_lock() -> bool:
            row = raw.execute("SELECT pg_try_advisory_lock(%s)", (MIGRATE_LOCK_KEY,)).fetchone()
            return bool(row and row[0])

        _acquire(try_lock, timeout=timeout, what="the migration lock", holder="PostgreSQL advisory lock", out=out)
        try:
            yield
        finally:
            raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK_KEY,))
    finally:
        raw.close()


def _acquire(attempt: Any, *, timeout: float, what: str, holder: str, out: Writer) -> None:
    if attempt():
        return
    out.write(f"parley: waiting for {what} ({holder}): another process holds it\n")
    out.flush()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        if attempt():
            return
    raise StartupError(
        f"waited {timeout:g}s for {what} ({holder}); another process still holds it. If no other "
        "Parley process is starting, a stuck one holds it: stop it and start again."
    )


# ---- the two steps ------------------------------------------------------------------------------


def migrate_locked(*, alias: str = "default", timeout: float, out: Writer, verbosity: int = 1) -> None:
    """``migrate --noinput`` under the database's migration lock."""
    with database_lock(alias, timeout=timeout, out=out):
        call_command("migrate", database=alias, interactive=False, verbosity=verbosity, stdout=out)


def static_fingerprint() -> str:
    """A hash of everything collectstatic would copy (paths and contents) and of the settings
    that shape its output."""
    digest = hashlib.sha256()
    storages = getattr(settings, "STORAGES", {})
    digest.update(repr((settings.STATIC_URL, storages.get("staticfiles"))).encode())
    ignore = list(apps.get_app_config("staticfiles").ignore_patterns)  # type: ignore[attr-defined]
    found: dict[str, Path] = {}
    for finder in get_finders():
        for path, storage in finder.list(ignore):
            prefixed = str(Path(getattr(storage, "prefix", None) or "") / path)
            found.setdefault(prefixed, Path(storage.path(path)))  # the first finder wins, as in collectstatic
    for prefixed in sorted(found):
        digest.update(prefixed.encode() + b"\0" + hashlib.sha256(found[prefixed].read_bytes()).digest())
    return digest.hexdigest()


def _collected(root: Path, fingerprint: str) -> bool:
    try:
        stamp = (root / STAMP_NAME).read_text().strip()
    except OSError:
        return False
    manifest = root / "staticfiles.json"
    return stamp == fingerprint and (manifest.exists() or not _uses_manifest())


def _uses_manifest() -> bool:
    backend = str(getattr(settings, "STORAGES", {}).get("staticfiles", {}).get("BACKEND", ""))
    return "Manifest" in backend


def collect_static(*, timeout: float, out: Writer, verbosity: int = 1) -> bool:
    """Collect static files into STATIC_ROOT unless they are there already. Returns whether it
    collected. Read-only when nothing changed; otherwise under a file lock in STATIC_ROOT."""
    if not settings.STATIC_ROOT:
        raise StartupError("STATIC_ROOT is not set: there is nowhere to collect static files to")
    root = Path(settings.STATIC_ROOT)
    fingerprint = static_fingerprint()
    if _collected(root, fingerprint):
        out.write(f"parley: static files in {root} are up to date\n")
        return False
    try:
        with file_lock(root / LOCK_NAME, timeout=timeout, what="the static files lock", out=out):
            if _collected(root, fingerprint):  # another process collected them while this one waited
                out.write(f"parley: static files in {root} are up to date\n")
                return False
            call_command("collectstatic", interactive=False, verbosity=verbosity, stdout=out)
            out.write(f"parley: collected static files into {root}\n")
            partial = root / (STAMP_NAME + ".tmp")
            partial.write_text(fingerprint + "\n")
            os.replace(partial, root / STAMP_NAME)  # the stamp appears whole, after the files
    except OSError as exc:
        raise StartupError(
            f"cannot collect static files into {root}: {exc}. Make it writable for this user, or set "
            "PARLEY_STATIC_ROOT to a directory that is"
        ) from exc
    return True
