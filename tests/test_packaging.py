"""The dependency lists, their lock files, and channels internals Parley depends on (uvicorn's are in
tests/realtime/ and tests/server/test_uvicorn_internals.py).

requirements*.txt are the inputs (pyproject.toml reads them as its dependency lists); the lock
files pin what `make run` and `make test` install. A line added to an input without `make lock`
fails here, with the command that fixes it.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ["requirements.txt"]
EXTRAS = {"daphne": "requirements-daphne.txt", "bench": "requirements-bench.txt", "dev": "requirements-dev.txt"}
LOCKS = {
    "requirements.lock": RUNTIME,
    "requirements-daphne.lock": [*RUNTIME, EXTRAS["daphne"]],
    "requirements-dev.lock": [*RUNTIME, *EXTRAS.values()],
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _requirements(name: str) -> list[Requirement]:
    lines = (ROOT / name).read_text().splitlines()
    return [Requirement(line.split(" #")[0]) for line in lines if line.strip() and not line.startswith("#")]


def _pins(lock: str) -> dict[str, set[Version]]:
    """Every `name==version` entry of a lock file (one name may have several, under markers)."""
    pins: dict[str, set[Version]] = {}
    for line in (ROOT / lock).read_text().splitlines():
        if match := PIN.match(line):
            pins.setdefault(canonicalize_name(match[1]), set()).add(Version(match[2]))
    return pins


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_lock_pins_a_version_every_input_line_accepts(lock: str) -> None:
    pins = _pins(lock)
    stale = []
    for source in LOCKS[lock]:
        for req in _requirements(source):
            versions = pins.get(canonicalize_name(req.name), set())
            if not any(req.specifier.contains(v, prereleases=True) for v in versions):
                stale.append(f"{source}: {req} (locked: {sorted(map(str, versions)) or 'nothing'})")
    assert not stale, f"{lock} is older than its inputs; run `make lock`:\n" + "\n".join(stale)


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_pin_carries_hashes(lock: str) -> None:
    entries = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / lock).read_text())
    pinned = [e for e in entries if PIN.match(e)]
    assert len(pinned) >= 10
    missing = [e.split()[0] for e in pinned if "--hash=sha256:" not in e]
    assert not missing, f"pins without hashes in {lock}: {missing}"


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [("requirements.lock", "requirements-daphne.lock"), ("requirements-daphne.lock", "requirements-dev.lock")],
)
def test_larger_locks_keep_the_smaller_ones_pins(smaller: str, larger: str) -> None:
    """Each set is installed over the smaller one (`make run`, then `make test`): the pins must agree."""
    small, large = _pins(smaller), _pins(larger)
    differ = {name: (small[name], large.get(name)) for name in small if large.get(name) != small[name]}
    assert not differ, f"run `make lock`: {differ}"


def test_pyproject_reads_its_lists_from_the_requirement_files() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dynamic = project["tool"]["setuptools"]["dynamic"]
    assert set(project["project"]["dynamic"]) == {"dependencies", "optional-dependencies"}
    assert dynamic["dependencies"]["file"] == RUNTIME
    assert {name: spec["file"] for name, spec in dynamic["optional-dependencies"].items()} == {
        name: [file] for name, file in EXTRAS.items()
    }
    # setuptools reads these files as plain requirement lists: pip's `-r`/`-c` lines would break it.
    for file in [*RUNTIME, *EXTRAS.values()]:
        assert all(r.name for r in _requirements(file))


def test_every_package_is_in_the_distribution() -> None:
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    top_level = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests"}
    assert top_level == {"parley", "config"}, "a new top-level package needs a line in pyproject.toml"
    assert set(include) >= {"parley", "parley.*", "config", "config.*"}


async def test_channels_in_memory_layer_internals_parley_uses() -> None:
    """parley/realtime/memlayer.py stores (expiry, message) tuples in InMemoryChannelLayer's
    `channels` queues and throttles its `_clean_expired`; the parent's `receive` must read them."""
    from channels.layers import InMemoryChannelLayer

    from parley.realtime.memlayer import LocalChannelLayer

    assert callable(InMemoryChannelLayer._clean_expired)
    layer = LocalChannelLayer()
    assert isinstance(layer.channels, dict) and isinstance(layer.groups, dict) and layer.expiry > 0
    await layer.group_add("room.pkg", "hub.pkg!one")
    await layer.group_send("room.pkg", {"type": "parley.event", "seq": 7})
    assert await asyncio.wait_for(InMemoryChannelLayer.receive(layer, "hub.pkg!one"), 1) == {
        "type": "parley.event",
        "seq": 7,
    }


def test_channels_consumer_call_sets_only_what_parley_sets() -> None:
    """HubConsumer.__call__ (parley/realtime/consumers/base.py) replaces AsyncConsumer.__call__ and
    sets scope, channel_layer (None) and base_send; the layer-channel attributes go unused without a
    layer. Anything else a new Channels sets there, Parley's replacement would miss."""
    from channels.consumer import AsyncConsumer

    assigned = set(re.findall(r"self\.(\w+)\s*=", inspect.getsource(AsyncConsumer.__call__)))
    assert assigned >= {"scope", "channel_layer", "base_send"}
    assert assigned <= {"scope", "channel_layer", "base_send", "channel_name", "channel_receive"}, assigned
