"""The process's open-file limit, and the connection cap derived from it.

Every socket is a file descriptor. A process that starts with a low soft limit (1,024 is common)
runs out of descriptors long before it runs out of memory, and then fails everything at once:
accepts, database connections, log files. ``bin/serve`` raises the soft limit to the hard limit
before it starts the server, and the connection cap (parley.server.admission) stays below it, so
sockets alone can never use up the descriptors the process needs for its own work.
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("parley.server")

# Descriptors kept for everything that is not a client socket: database and Redis connections,
# the listening sockets, log files, the event loop's own descriptors, worker pipes.
RESERVED_FILES = 1024
MIN_CONNECTIONS = 64


def raise_open_files_limit() -> tuple[int, int]:
    """Raise RLIMIT_NOFILE's soft limit to its hard limit; return (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard
    if hard == resource.RLIM_INFINITY:  # not on Linux, where the hard limit is finite
        target = max(soft, 1 << 20) if soft != resource.RLIM_INFINITY else soft
    if target != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError) as exc:
            log.warning("could not raise the open-file limit from %s to %s: %s", soft, target, exc)
            return soft, soft
    return soft, target


def open_files_limit() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections(files: int | None = None) -> int:
    """The cap when ``PARLEY_MAX_CONNECTIONS`` is 0: the open-file limit less a reserve."""
    files = open_files_limit() if files is None else files
    reserve = min(RESERVED_FILES, files // 4)
    return max(MIN_CONNECTIONS, files - reserve)
