"""The deploy files run the tested start command (tests/production/test_start.py) and cannot
drift from it: the Dockerfile's entry point, compose's web service, the systemd unit. The image
itself cannot be built here (no registry for its base image); these check what can be checked."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.production.support import ROOT, documented_start, nginx_config

DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
UNIT = ROOT / "deploy" / "parley@.service"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"


def _start_argv() -> list[str]:
    return shlex.split(documented_start().command)


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the final stage, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((word.upper(), rest.strip()))
    return stages[-1]


def _relative_to(workdir: str, argv: list[str]) -> list[str]:
    """An absolute program under ``workdir`` as the command a shell in ``workdir`` would type."""
    program = PurePosixPath(argv[0])
    if program.is_absolute() and program.is_relative_to(workdir):
        return [str(program.relative_to(workdir)), *argv[1:]]
    return argv


def test_dockerfile_runs_the_start_command_as_a_non_root_user() -> None:
    final = _instructions()
    first_from = next(line for line in DOCKERFILE.read_text().splitlines() if line.startswith("FROM"))
    assert "-slim" in first_from
    assert any(i == "FROM" and "-slim" in args for i, args in final)
    workdir = [args for i, args in final if i == "WORKDIR"][-1]
    entry = json.loads([args for i, args in final if i == "ENTRYPOINT"][-1])
    assert _relative_to(workdir, entry) == _start_argv()
    assert (ROOT / _start_argv()[0]).stat().st_mode & 0o111, "the entry point must be executable"
    users = [args for i, args in final if i == "USER"]
    assert users and users[-1] not in {"root", "0"}
    # the user the image runs as is created in it, and no instruction after USER switches back
    assert "useradd --system --uid 10001 --gid parley" in " ".join(a for i, a in final if i == "RUN")
    health = [args for i, args in final if i == "HEALTHCHECK"][-1]
    assert json.loads(health.split("CMD", 1)[1].strip()) == [f"{workdir}/bin/healthcheck"]
    env = " ".join(args for i, args in final if i == "ENV")
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in env
    # runtime dependencies only, pinned with hashes: the extras' files stay out of the image
    copied = " ".join(args for i, args in _all_instructions() if i in {"COPY", "RUN"})
    assert "requirements.lock" in copied and "--require-hashes" in copied
    assert not any(extra in copied for extra in ("requirements-dev", "requirements-bench", "requirements-daphne"))


def _all_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_compose_web_runs_the_image_entry_point_with_healthy_dependencies() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    web = services["web"]
    final = _instructions()
    workdir = [args for i, args in final if i == "WORKDIR"][-1]
    assert _relative_to(workdir, list(web["entrypoint"])) == _start_argv()
    assert "command" not in web
    assert web["healthcheck"]["test"] == ["CMD", f"{workdir}/bin/healthcheck"]
    documented = set(documented_start().exports)
    assert documented <= set(web["environment"]), documented - set(web["environment"])
    assert web["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert int(str(web["environment"]["WORKERS"]).split(":-")[-1].rstrip("}")) > 1, "several processes"
    for name in ("db", "redis"):
        assert web["depends_on"][name]["condition"] == "service_healthy"
        assert services[name]["healthcheck"]["test"]
    assert "pgdata" in compose["volumes"]
    assert any(str(v).startswith("pgdata:") for v in services["db"]["volumes"])
    # Every variable compose requires is in the example .env it points to.
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    example = {line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line}
    assert required and required <= example, required - example


def test_systemd_unit_runs_the_start_command() -> None:
    entries: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith(("#", "[")):
            key, _, value = line.partition("=")
            entries.setdefault(key.strip(), []).append(value.strip())
    workdir = entries["WorkingDirectory"][0]
    assert _relative_to(workdir, shlex.split(entries["ExecStart"][0])) == _start_argv()
    assert entries["User"][0] not in {"root", "0"}
    environment = " ".join(entries["Environment"])
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in environment
    assert "PORT=%i" in environment
    assert f"{workdir}/.venv/bin" in environment, "bin/start's python is the virtualenv's"


@pytest.mark.skipif(not (shutil.which("nginx") and shutil.which("openssl")), reason="needs nginx and openssl")
def test_nginx_example_is_valid(tmp_path: Path) -> None:
    """``nginx -t``; tests/production/test_start.py also serves the deployment through it."""
    main = nginx_config(tmp_path, upstreams=[8001, 8002], http_port=8080, https_port=8443)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
