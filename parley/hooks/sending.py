"""One outgoing webhook request: where it may go, how it is signed, what counts as delivered.

Where: the URL's host is resolved here and every address it resolves to must be allowed
(``destination_check``): public addresses by default, private, loopback, link-local and other
special ones only when the operator lists them (PARLEY_WEBHOOK_ALLOWED_HOSTS). The request then
connects to the address that was checked, not to a second lookup of the name, so a DNS answer
that changes in between (rebinding) cannot steer it inside. Redirects are not followed.

Signed: ``X-Parley-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body>`` with the
subscription's secret (the scheme Stripe uses): a receiver recomputes it and refuses old ``t``.
Delivered: a 2xx answer, each wait (connect, each read) within PARLEY_WEBHOOK_TIMEOUT and the
whole request within twice that.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from parley.core.errors import BadRequest

URL_MAX = 2000
DEADLINE_FACTOR = 2  # a whole request may take this many PARLEY_WEBHOOK_TIMEOUTs
USER_AGENT = "Parley-Webhooks/1"
type Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The destination is not allowed (or cannot be resolved): the reason, for the owner."""


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    status: int | None
    error: str


def url_parse(url: object) -> Target:
    """The parts of a subscription's URL, or BadRequest saying what is wrong with it."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX:
        raise BadRequest(f"url must be an http or https URL of at most {URL_MAX} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"url is not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("url must be an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("url must not carry a user or password (verify the signature instead)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


def url_check(url: object, *, resolve: bool) -> Target:
    """The URL's parts if it may be subscribed, else BadRequest saying why. An address in the
    URL is checked at once; a name only with ``resolve`` (a DNS lookup: keep it off the process's
    database thread). Every send checks again, after its own lookup."""
    target = url_parse(url)
    try:
        ipaddress.ip_address(target.host)
        literal = True
    except ValueError:
        literal = False
    if literal or resolve:
        try:
            destination_check(target.host, target.port)
        except Refused as exc:
            raise BadRequest(f"url: {exc}") from None
    return target


def _listed(host: str, address: Address) -> bool:
    for entry in settings.PARLEY_WEBHOOK_ALLOWED_HOSTS:
        if entry.lower().strip("[]") == host.lower():
            return True
        try:
            if address in ipaddress.ip_network(entry.strip("[]"), strict=False):
                return True
        except ValueError:
            continue  # a host name: compared above
    return False


def _special(address: Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    return not address.is_global or address.is_multicast


def destination_check(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, every one of them allowed; else Refused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    found: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if _listed(host, address):
            pass
        elif not settings.PARLEY_WEBHOOK_PUBLIC:
            raise Refused(f"{host} is not in PARLEY_WEBHOOK_ALLOWED_HOSTS")
        elif _special(address):
            raise Refused(f"{host} resolves to {address}, a private or special address (PARLEY_WEBHOOK_ALLOWED_HOSTS)")
        if text not in found:
            found.append(text)
    if not found:
        raise Refused(f"{host} resolves to no address")
    return found


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    cls = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
    conn = cls(target.host, target.port, timeout=timeout)  # Host header and TLS name: the URL's host

    def connect_checked(_address: Any, timeout: Any = None, source_address: Any = None) -> socket.socket:
        return socket.create_connection((address, target.port), timeout, source_address)

    conn._create_connection = connect_checked  # type: ignore[attr-defined]  # the checked address only
    return conn


def _cut(conn: http.client.HTTPConnection, fired: threading.Event) -> None:
    fired.set()
    sock = conn.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def deliver(*, url: str, secret: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST ``body`` to ``url``, signed; never raises."""
    timeout = settings.PARLEY_WEBHOOK_TIMEOUT
    try:
        target = url_parse(url)
        address = destination_check(target.host, target.port)[0]
    except (BadRequest, Refused) as exc:
        return Outcome(False, None, f"refused: {exc}")
    sent = {
        **headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Parley-Signature": signature(secret, int(time.time()), body),
        "Connection": "close",
    }
    conn = _connection(target, address, timeout)
    # The socket timeout bounds each wait; this bounds the whole exchange, so a receiver that
    # answers a byte at a time cannot hold a worker's thread for long.
    fired = threading.Event()
    cut = threading.Timer(DEADLINE_FACTOR * timeout, _cut, args=(conn, fired))
    cut.start()
    try:
        conn.request("POST", target.path, body=body, headers=sent)
        response = conn.getresponse()
        response.read(64 * 1024)  # the answer's body is not kept; reading lets the server finish
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        cut.cancel()
        conn.close()
    if fired.is_set():  # a cut answer can parse as a whole one (headers ended by the close)
        return Outcome(False, None, f"no full answer within {DEADLINE_FACTOR * timeout:g}s (past the deadline)")
    if 200 <= status < 300:
        return Outcome(True, status, "")
    if 300 <= status < 400:
        return Outcome(False, status, f"HTTP {status}: redirects are not followed")
    return Outcome(False, status, f"HTTP {status}")
