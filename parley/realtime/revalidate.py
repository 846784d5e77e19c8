"""The credential sweep: sockets whose sign-in no longer holds are closed (4401).

Logout, a removed membership and the services that revoke access close sockets at once
(parley.realtime.publish). Everything else that ends a sign-in (a user deactivated or a
password changed in the admin, a token deleted from a shell, a session that expired) is found
here: every PARLEY_REVALIDATE_SECONDS the process checks the credential of each open socket
(parley.accounts.selectors.credentials_revoked, one database crossing for all of them).
"""

from __future__ import annotations

import asyncio
import logging

from django.conf import settings

from parley.accounts.selectors import credentials_revoked
from parley.realtime import metrics
from parley.realtime.connection import Connection
from parley.realtime.dbwait import db_call
from parley.realtime.hub import Hub

log = logging.getLogger("parley.realtime")


async def revalidate_forever(hub: Hub) -> None:
    while True:
        await asyncio.sleep(settings.PARLEY_REVALIDATE_SECONDS)
        try:
            await revalidate(hub)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("credential sweep failed; trying again next interval", exc_info=True)


async def revalidate(hub: Hub) -> int:
    """Close the sockets whose credential was revoked; returns how many."""
    connections = [c for c in hub.connections() if isinstance(c, Connection) and c.credential is not None]
    if not connections:
        return 0
    revoked = await db_call(credentials_revoked, {c.credential for c in connections if c.credential})
    closed = 0
    for conn in connections:
        if conn.credential in revoked:
            conn.end_session()
            closed += 1
    if closed:
        metrics.REVOKED_CLOSES.inc(closed)
        log.info("closed %s sockets whose sign-in was revoked", closed)
    return closed
