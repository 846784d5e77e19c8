"""Admin for the event log: searchable and filterable, and read-only.

Events are the rooms' logs: a changed or deleted row would make clients' folded state, their
resume and the stored frame disagree, and a deleted seq is a gap the protocol promises never to
have. Moderation belongs in services that append events, not in edits of old ones.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from parley.messaging.models import Event

PREVIEW_CHARS = 80


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("room", "seq", "kind", "author", "author_is_guest", "preview", "created_at")
    list_filter = ("kind", "created_at", "author__is_guest", "room__is_public")
    search_fields = ("body", "cid", "room__slug", "author__username", "author__display_name")
    list_select_related = ("room", "author")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-id")
    show_full_result_count = False  # the log grows large: skip the unfiltered COUNT(*)
    raw_id_fields = ("room", "author")

    @admin.display(description="body")
    def preview(self, obj: Event) -> str:
        body = obj.body.replace("\n", " ")
        return body if len(body) <= PREVIEW_CHARS else body[: PREVIEW_CHARS - 1] + "…"

    @admin.display(boolean=True, description="guest", ordering="author__is_guest")
    def author_is_guest(self, obj: Event) -> bool | None:
        return None if obj.author is None else obj.author.is_guest

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
