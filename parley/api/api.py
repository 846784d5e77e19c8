"""The ``NinjaAPI`` at /api/v1/: its routers, auth and error handlers."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from parley.api import account, files, messages, profile, rooms, subscriptions
from parley.api.auth import BearerAuth, SessionAuth
from parley.api.errors import error_response, internal_error, parley_error
from parley.core.errors import ParleyError

api = NinjaAPI(
    title="Parley",
    version="1",
    description="Parley's HTTP API: the same rooms, messages and rules as protocol v1 (docs/api.md).",
    urls_namespace="api-v1",
    auth=[BearerAuth(), SessionAuth()],
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("", profile.router)
api.add_router("", account.router)
api.add_router("", rooms.router)
api.add_router("", messages.router)
api.add_router("", files.router)
api.add_router("", subscriptions.router)

api.add_exception_handler(ParleyError, parley_error)  # type: ignore[arg-type]
api.add_exception_handler(Exception, internal_error)  # type: ignore[arg-type]


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    loc = [str(part) for part in first.get("loc", ())]
    # ("body", "data", "cid") names the field "cid"; ("query", "limit"), "limit"
    where = ".".join(loc[2:] if loc[:2] == ["body", "data"] else loc[1:])
    detail = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
    return error_response("bad_request", detail)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return error_response("too_large", "the request body is too large")


@api.exception_handler(MultiPartParserError)
def _unreadable(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    return error_response("bad_request", f"the multipart/form-data body cannot be read: {exc}")


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response("not_authenticated", "sign in, or send Authorization: Bearer <token>")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "bad_request", 403: "forbidden", 404: "not_found", 413: "too_large"}.get(
        exc.status_code, "bad_request"
    )
    return error_response(code, str(exc), status=exc.status_code)
