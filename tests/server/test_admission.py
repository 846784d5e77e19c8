"""The bookkeeping behind the connection cap, and its settings (the sockets themselves are
exercised in tests/live/test_hostile_connections.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from parley.server.admission import Admission
from parley.server.limits import default_max_connections

ROOT = Path(__file__).resolve().parents[2]


class Conn:
    def __init__(self, admission: Admission, name: str) -> None:
        self.admission, self.name, self.was_shed = admission, name, False
        admission.connections.add(self)

    def shed(self) -> None:
        self.was_shed = True

    def lost(self) -> None:
        self.admission.connections.discard(self)
        self.admission.lost(self)


def _admission(cap: int) -> Admission:
    return Admission(set(), max_connections=cap, request_timeout=10.0, max_header_bytes=16384)


def test_a_newcomer_over_the_cap_sheds_the_longest_waiting_idle_connection() -> None:
    admission = _admission(3)
    first, second, busy = (Conn(admission, n) for n in ("first", "second", "busy"))
    for conn in (first, second, busy):
        admission.wait(conn)
    admission.stop_waiting(busy)  # its request header arrived
    admission.wait(first)  # first finished a keep-alive request: it now waited least
    newcomer = Conn(admission, "newcomer")
    admission.wait(newcomer)
    admission.make_room(newcomer)
    assert (first.was_shed, second.was_shed, busy.was_shed, newcomer.was_shed) == (False, True, False, False)
    assert admission.open_count() == 3  # the shed one counts as gone before the transport reports it
    second.lost()
    assert admission.open_count() == 3 and admission.closing == set()


def test_busy_connections_are_never_shed_and_beyond_the_cap_work_is_refused() -> None:
    admission = _admission(2)
    busy = [Conn(admission, f"ws{i}") for i in range(2)]  # WebSockets: never waiting
    newcomer = Conn(admission, "newcomer")
    admission.wait(newcomer)
    admission.make_room(newcomer)
    assert not any(conn.was_shed for conn in [*busy, newcomer])
    assert not admission.over_capacity()  # the newcomer has not asked for anything yet
    admission.stop_waiting(newcomer)  # its header is complete
    assert admission.over_capacity()


def test_the_default_cap_leaves_descriptors_for_the_process() -> None:
    assert default_max_connections(20000) == 20000 - 1024
    assert default_max_connections(1024) == 768
    assert default_max_connections(60) == 64


@pytest.mark.parametrize(
    ("name", "value"),
    [("PARLEY_MAX_CONNECTIONS", "-1"), ("PARLEY_REQUEST_TIMEOUT_MS", "0"), ("PARLEY_MAX_HEADER_BYTES", "10")],
)
def test_bad_limits_stop_the_process_with_a_clear_error(name: str, value: str) -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", name: value}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, capture_output=True, timeout=60
    )
    assert done.returncode != 0
    assert name in done.stderr.decode()
