"""Answers made of stored frames: events are kept encoded (parley.messaging), so lists of them
are spliced into the answer's text, never decoded and encoded again."""

from __future__ import annotations

from django.http import HttpResponse

from parley.core import json

ERRORS = frozenset({400, 401, 403, 404, 409, 413, 429, 500, 503})
UPLOAD_ERRORS = ERRORS | {415}  # an upload of a refused type


def raw(text: str, status: int = 200) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="application/json")


def events_list(fields: dict[str, object], frames: list[str], *, key: str = "events") -> HttpResponse:
    head = json.dumps(fields)[:-1]  # the other fields, without the closing brace
    sep = "," if fields else ""
    return raw(head + sep + f'"{key}":[' + ",".join(frames) + "]}")
