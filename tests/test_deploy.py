"""Production settings pass `check --deploy` with the documented environment, and fail without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTED = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "k3Jx9-documented-only-in-this-test-" + "q8Zr2LmN4pT6vW1yB3dF5hJ7kM9nP0sR",
    "ALLOWED_HOSTS": "chat.example.com",
    "DATABASE_URL": "postgres://parley@127.0.0.1:5432/parley",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp+tls://parley%40example.com:app-password@smtp.example.com:587",
}


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in DOCUMENTED and k != "PARLEY_CHANNEL_LAYER"}
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_environment() -> None:
    result = _check(DOCUMENTED)
    assert result.returncode == 0, result.stderr + result.stdout


def test_check_deploy_wants_a_real_mail_server() -> None:
    result = _check({**DOCUMENTED, "EMAIL_URL": ""})  # mail printed to the log: fine to try, not to run
    assert result.returncode != 0 and "mail.E001" in result.stderr


def test_check_deploy_complains_about_what_parley_knows() -> None:
    result = _check({**DOCUMENTED, "ALLOWED_HOSTS": "*", "REDIS_URL": ""})
    assert result.returncode != 0
    assert "parley.W001" in result.stderr and "parley.W002" in result.stderr


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _check({k: v for k, v in DOCUMENTED.items() if k != "SECRET_KEY"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr
