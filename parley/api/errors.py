"""Errors as protocol v1 names them, with an HTTP status: ``{"error": {"code", "detail",
"retry_after"?}}``, and ``Retry-After`` where a retry makes sense (docs/api.md)."""

from __future__ import annotations

import logging
import math
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse

from parley.core import json
from parley.core.errors import ParleyError

log = logging.getLogger("parley.api")

STATUS = {
    "bad_request": 400,
    "not_authenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "not_member": 409,
    "too_large": 413,
    "rate_limited": 429,
    "server_error": 503,
}


def error_response(
    code: str, detail: str, *, retry_after: float | None = None, status: int | None = None
) -> HttpResponse:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if retry_after is not None:
        body["retry_after"] = retry_after
    response = HttpResponse(
        json.dumps({"error": body}), status=status or STATUS.get(code, 500), content_type="application/json"
    )
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    if code == "not_authenticated":
        response["WWW-Authenticate"] = 'Bearer realm="parley"'
    return response


def parley_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    assert isinstance(exc, ParleyError)
    if exc.code == "server_error" and exc.retry_after is None:
        return error_response("server_error", exc.detail, status=500)
    return error_response(exc.code, exc.detail, retry_after=exc.retry_after, status=exc.http_status)


def database_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.error("api %s %s: database error", request.method, request.path, exc_info=exc)
    return error_response("server_error", "database unavailable; retry", retry_after=1.0)


def internal_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    if isinstance(exc, DatabaseError):
        return database_error(request, exc)
    log.error("api %s %s: internal error", request.method, request.path, exc_info=exc)
    return error_response("server_error", "internal error", status=500)
