"""Domain errors. Each carries the wire-protocol error code it maps to (docs/protocol.md)."""

from __future__ import annotations


class ParleyError(Exception):
    code = "server_error"
    http_status: int | None = None  # over HTTP, when not the code's usual status (parley.api.errors.STATUS)

    def __init__(self, detail: str, *, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class BadRequest(ParleyError):
    code = "bad_request"


class TooLarge(ParleyError):
    code = "too_large"


class NotFound(ParleyError):
    code = "not_found"


class Forbidden(ParleyError):
    code = "forbidden"


class NotAuthenticated(Forbidden):
    """Sign-in required (closes a socket with 4401 rather than 4403)."""


class RateLimited(ParleyError):
    code = "rate_limited"


class Unavailable(ParleyError):
    """The database or another dependency failed; the client may retry (same cid)."""

    code = "server_error"
