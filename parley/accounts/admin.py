"""Admin for people and their bearer tokens.

Deactivating users and revoking tokens go through parley.accounts.services (``user_deactivate``,
``token_revoke``), whichever admin page does it, so that what must follow them lives in one place.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from parley.accounts.models import ApiToken, User
from parley.accounts.services import profile_publish, token_revoke, user_deactivate


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("person", "People"), ("guest", "Guests"), ("staff", "Staff")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "person":
            return queryset.filter(is_guest=False)
        if self.value() == "guest":
            return queryset.filter(is_guest=True)
        if self.value() == "staff":
            return queryset.filter(is_staff=True)
        return queryset


class ApiTokenInline(admin.TabularInline):
    model = ApiToken
    fields = ("id", "name", "created_at")
    readonly_fields = ("id", "name", "created_at")
    extra = 0
    can_delete = False  # revoke from the token list, where it goes through token_revoke
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "display_name",
        "is_guest",
        "is_bot",
        "is_active",
        "is_staff",
        "token_count",
        "date_joined",
        "last_login",
    )
    list_filter = (KindFilter, "is_bot", "is_active", "is_staff", "is_superuser", "date_joined", "last_login")
    search_fields = ("username", "display_name", "email", "first_name", "last_name")
    ordering = ("-date_joined",)
    date_hierarchy = "date_joined"
    actions = ("deactivate_users",)
    inlines = (ApiTokenInline,)
    # A guest has no password; making it a person is not a checkbox. The picture is set or removed
    # by its owner on the settings page (files and their cleanup go through parley.accounts.avatars).
    readonly_fields = ("is_guest", "avatar")
    fieldsets = (
        *(DjangoUserAdmin.fieldsets or ()),
        ("Parley", {"fields": ("display_name", "is_bot", "avatar", "is_guest")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(_tokens=Count("api_tokens"))

    @admin.display(description="tokens", ordering="_tokens")
    def token_count(self, obj: Any) -> int:
        return int(getattr(obj, "_tokens", 0))

    @admin.action(description="Deactivate selected users (no sign-in, tokens refused)")
    def deactivate_users(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        done = user_deactivate(user_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{len(done)} user(s) deactivated.", messages.SUCCESS)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        deactivating = change and "is_active" in form.changed_data and not obj.is_active
        if deactivating:
            obj.is_active = True  # saved as it was: user_deactivate below makes the change
        super().save_model(request, obj, form, change)
        if change and {"display_name", "is_bot"} & set(form.changed_data):
            profile_publish(user=obj)
        if deactivating:
            user_deactivate(user_ids=[obj.pk])
            obj.is_active = False

    # Deleting a user ends its access too: deactivate first so the same path runs. (Messages the
    # user wrote keep their rows but lose their author: deactivating is usually what is wanted.)
    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_deactivate(user_ids=[obj.pk])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        user_deactivate(user_ids=list(queryset.values_list("pk", flat=True)))
        super().delete_queryset(request, queryset)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are listed and revoked here, never shown: only a SHA-256 of each is stored.
    New tokens come from the owner's settings page or ``manage.py parley_token create``, which
    show the token once."""

    list_display = ("id", "name", "user", "user_is_active", "user_is_guest", "created_at", "last_used_at")
    list_filter = ("created_at", "user__is_active", "user__is_guest")
    search_fields = ("name", "user__username", "user__display_name")
    list_select_related = ("user",)
    ordering = ("-created_at",)
    fields = ("user", "name", "created_at", "last_used_at")
    readonly_fields = ("user", "created_at", "last_used_at")
    actions = ("revoke_tokens",)

    @admin.display(boolean=True, description="user active", ordering="user__is_active")
    def user_is_active(self, obj: ApiToken) -> bool:
        return obj.user.is_active

    @admin.display(boolean=True, description="guest", ordering="user__is_guest")
    def user_is_guest(self, obj: ApiToken) -> bool:
        return obj.user.is_guest

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens", permissions=["delete"])
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        revoked = token_revoke(token_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{len(revoked)} token(s) revoked.", messages.SUCCESS)

    # Deleting is revoking: the delete button and "Delete selected" go through token_revoke too.
    def delete_model(self, request: HttpRequest, obj: ApiToken) -> None:
        token_revoke(token_ids=[obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        token_revoke(token_ids=list(queryset.values_list("pk", flat=True)))
