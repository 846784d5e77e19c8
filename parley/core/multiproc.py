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
    named = environ.get("PROMETHEUS_MULTIPROC_DIR")
    if named:
        os.makedirs(named, exist_ok=True)
        for path in glob.glob(os.path.join(named, "*.db")):
            os.remove(path)
        return lambda: None
    sweep_orphans()
    made = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    environ["PROMETHEUS_MULTIPROC_DIR"] = made
    return lambda: shutil.rmtree(made, ignore_errors=True)


PREFIX = "parley-metrics-"


def sweep_orphans(root: str | None = None) -> None:
    """Remove the temporary directories of servers that are gone. A server does not always get
    to remove its own: a single uvicorn process ends by re-raising SIGTERM, and SIGKILL ends
    anything."""
    root = root or tempfile.gettempdir()
    for path in glob.glob(os.path.join(glob.escape(root), PREFIX + "*")):
        pid = os.path.basename(path)[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True
