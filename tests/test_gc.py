import gc
import sys
from collections.abc import Iterator

import pytest

from parley.core.gc import DEFAULT, tune_gc
from parley.core.gil import DEFAULT_US, tune_switch_interval


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


def test_switch_interval_is_short_by_default_and_can_be_set(monkeypatch: pytest.MonkeyPatch) -> None:
    before = sys.getswitchinterval()
    try:
        monkeypatch.delenv("PARLEY_SWITCH_INTERVAL_US", raising=False)
        assert tune_switch_interval() == pytest.approx(DEFAULT_US / 1e6) == pytest.approx(sys.getswitchinterval())
        monkeypatch.setenv("PARLEY_SWITCH_INTERVAL_US", "2000")
        assert tune_switch_interval() == pytest.approx(0.002)
        monkeypatch.setenv("PARLEY_SWITCH_INTERVAL_US", "default")
        assert tune_switch_interval() == pytest.approx(0.002)
        monkeypatch.setenv("PARLEY_SWITCH_INTERVAL_US", "0")
        with pytest.raises(ValueError, match="positive"):
            tune_switch_interval()
    finally:
        sys.setswitchinterval(before)
