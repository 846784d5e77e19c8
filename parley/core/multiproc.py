"""The directory where every process of one server writes its metrics (prometheus-client's
multiprocess mode, parley.core.metrics). Standard library only: ``bin/serve`` prepares it before
anything imports prometheus-client, which picks its mode at import."""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections.abc import Callable, MutableMapping

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(environ: MutableMapping[str, str]) -> Callable[[], None]:
    """Point ``environ`` at an empty directory for the processes about to start, and return what
    to call once they have all stopped. A directory the operator names is emptied of a previous
    run's values and kept; otherwise a fresh temporary one is made and removed afterwards (two
    servers on one machine never share one by accident)."""
    named = environ.get(ENV)
    if named:
        os.makedirs(named, exist_ok=True)
        for path in glob.glob(os.path.join(named, "*.db")):
            os.remove(path)
        return lambda: None
    made = tempfile.mkdtemp(prefix="parley-metrics-")
    environ[ENV] = made
    return lambda: shutil.rmtree(made, ignore_errors=True)
