from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import Databases


@pytest.fixture(scope="session")
def live_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    databases = Databases(tmp_path_factory.mktemp("live-db"))
    yield databases
    databases.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
