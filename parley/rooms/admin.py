"""Admin for rooms and memberships. A room's ``last_seq`` belongs to its event log: read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from parley.rooms.models import Membership, Restriction, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role", "read_seq", "joined_at")
    readonly_fields = ("read_seq", "joined_at")
    raw_id_fields = ("user",)
    extra = 0


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "is_public", "last_seq", "member_count", "created_by", "created_at")
    list_filter = ("is_public", "created_at", "created_by__is_guest")
    search_fields = ("slug", "title", "created_by__username")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    # kind, restricted and dm_key follow from the room's services (DMs, bans, mutes): read-only here.
    readonly_fields = ("last_seq", "created_at", "kind", "restricted", "dm_key")
    raw_id_fields = ("created_by",)
    inlines = (MembershipInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(description="members", ordering="_members")
    def member_count(self, obj: Any) -> int:
        return int(getattr(obj, "_members", 0))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("room", "user", "role", "read_seq", "joined_at")
    list_filter = ("role", "room__is_public", "user__is_guest", "joined_at")
    search_fields = ("room__slug", "user__username", "user__display_name")
    list_select_related = ("room", "user")
    readonly_fields = ("read_seq", "joined_at")
    raw_id_fields = ("room", "user")


@admin.register(Restriction)
class RestrictionAdmin(admin.ModelAdmin):
    """Bans and mutes, for looking up; they are made and lifted from the room (parley.rooms.members),
    where each is an event of the room's log."""

    list_display = ("room", "user", "kind", "by", "created_at")
    list_filter = ("kind", "created_at")
    search_fields = ("room__slug", "user__username")
    list_select_related = ("room", "user", "by")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
