"""One instance of something per event loop: a server process runs one loop, tests one each."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class PerLoop[T]:
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._instances: dict[asyncio.AbstractEventLoop, T] = {}

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        instance = self._instances.get(loop)
        if instance is None:
            for old in [old for old in self._instances if old.is_closed()]:
                del self._instances[old]
            instance = self._instances[loop] = self._factory()
        return instance
