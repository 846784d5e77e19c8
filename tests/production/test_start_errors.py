"""bin/start refuses bad configuration with one clear line and exit status 1, never a traceback
and never a server that half-starts."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.production.support import ROOT
from tests.support.server import free_port

pytestmark = pytest.mark.timeout(120)


def _start(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "DJANGO_", "PYTEST"))}
    base.update(
        PATH=os.path.dirname(sys.executable) + os.pathsep + base.get("PATH", ""),
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="chat.example.com",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{free_port()}/parley",  # nothing listens there
        PARLEY_STATIC_ROOT=str(tmp_path / "static"),
        PORT=str(free_port()),
    )
    for name in ("REDIS_URL", "DJANGO_SETTINGS_MODULE"):
        base.pop(name, None)
    base.update(env)
    base = {k: v for k, v in base.items() if v != "<unset>"}
    return subprocess.run(
        ["bin/start", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=90, check=False
    )


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--now",), {}, "usage: bin/start"),
        ((), {"SECRET_KEY": "<unset>"}, "parley: environment variable SECRET_KEY is required"),
        ((), {}, "parley: cannot connect to the database (DATABASE_URL)"),
        ((), {"PARLEY_STATIC_ROOT": "/proc/parley-static"}, "parley: cannot collect static files into /proc/"),
    ],
    ids=["arguments", "no-secret-key", "database-down", "static-root-unwritable"],
)
def test_bin_start_explains_what_is_wrong(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    result = _start(tmp_path, *args, **env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
