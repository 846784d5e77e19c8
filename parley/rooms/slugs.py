"""Room names: the slug in ``/rooms/<slug>/``, ``/ws/chats/<slug>/`` and every ``room`` field."""

from __future__ import annotations

import re

from parley.core.errors import BadRequest

SLUG_PATTERN = r"[a-z0-9][a-z0-9_-]{0,63}"
# \A...\Z, not ^...$: "$" also matches before a trailing newline ("lobby\n" passed).
SLUG_RE = re.compile(rf"\A{SLUG_PATTERN}\Z")


def slug_validate(slug: object) -> str:
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise BadRequest("room must be 1-64 characters: lowercase letters, digits, '-' or '_'")
    return slug
