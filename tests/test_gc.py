import gc
from collections.abc import Iterator

import pytest

from parley.core.gc import DEFAULT, tune_gc


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_default_thresholds_collect_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_GC_THRESHOLD", raising=False)
    assert tune_gc() == DEFAULT == gc.get_threshold()


def test_override_and_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_GC_THRESHOLD", "1000,5,5")
    assert tune_gc() == (1000, 5, 5) == gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    monkeypatch.setenv("PARLEY_GC_THRESHOLD", "default")
    assert tune_gc() == (700, 10, 10)
    monkeypatch.setenv("PARLEY_GC_THRESHOLD", "1,2")
    with pytest.raises(ValueError, match="three integers"):
        tune_gc()
