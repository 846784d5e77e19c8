"""Who may read ``/metrics``: client addresses (``PARLEY_METRICS_ALLOW``) or a bearer token
(``PARLEY_METRICS_TOKEN``).

The address is the one Django sees, ``REMOTE_ADDR``: behind a proxy that uvicorn trusts
(``PROXY_HEADERS``, loopback by default) it is the client's address from ``X-Forwarded-For``, so
an outside client coming through a local proxy is not taken for a local one. Production allows
loopback only; development allows everyone (``*``).
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class BadAllowList(ValueError):
    pass


@functools.lru_cache(maxsize=8)
def parse_allow(entries: tuple[str, ...]) -> tuple[bool, tuple[Network, ...]]:
    """``(everyone, networks)`` from addresses and CIDRs; ``*`` allows everyone."""
    everyone = False
    networks: list[Network] = []
    for entry in entries:
        if entry == "*":
            everyone = True
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise BadAllowList(
                f"PARLEY_METRICS_ALLOW: {entry!r} is not an address or CIDR (e.g. 127.0.0.1, 10.0.0.0/8, ::1, *)"
            ) from None
    return everyone, tuple(networks)


def _address_allowed(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False  # not an IP (a Unix socket, a test client): only "*" or the token lets it in
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.PARLEY_METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].strip().encode(), token.encode()):
            return True
    everyone, networks = parse_allow(tuple(settings.PARLEY_METRICS_ALLOW))
    return everyone or _address_allowed(request.META.get("REMOTE_ADDR") or "", networks)


@register()
def metrics_allow_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    try:
        parse_allow(tuple(settings.PARLEY_METRICS_ALLOW))
    except BadAllowList as exc:
        return [Error(str(exc), id="parley.E010")]
    return []
