"""Pages the database cannot serve answer 503 with Retry-After, at once, instead of a 500."""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils.deprecation import MiddlewareMixin

log = logging.getLogger("parley.web")


class DatabaseUnavailableMiddleware(MiddlewareMixin):
    """Connection-level database errors (down, not answering, pool exhausted) are an outage, not
    a bug: a short 503 that load balancers and browsers understand, and one log line."""

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        log.warning("page %s: database unavailable: %s", request.path, exception)
        response = HttpResponse("The database is unavailable; retry shortly.\n", status=503, content_type="text/plain")
        response["Retry-After"] = "1"
        return response
