"""The caller's own account, as the settings page changes it: profile (display name), email and
the digest opt-out, picture, password. Each check is the page's own form (parley.accounts.forms)
and each write the page's service (parley.accounts.services), in one crossing; a form's first
error is the answer's ``bad_request`` detail. Guests have no settings (``forbidden``: sign up)."""

from __future__ import annotations

import asyncio
from typing import Any

from django import forms
from django.contrib.auth import update_session_auth_hash
from django.core.files.uploadedfile import UploadedFile
from django.db import connections, transaction
from django.http import HttpRequest
from ninja import Router, Status

from parley.accounts.avatars import AvatarRejected, AvatarTooLarge, avatar_url
from parley.accounts.avatars import avatar_delete as avatar_delete_files
from parley.accounts.forms import EmailForm, PasswordForm, ProfileForm
from parley.accounts.models import User
from parley.accounts.services import avatar_prepare, avatar_remove, avatar_use, email_update, profile_update
from parley.api.auth import caller
from parley.api.crossing import call
from parley.api.responses import ERRORS, UPLOAD_ERRORS
from parley.api.schemas import ErrorOut, MeIn, MeOut, PasswordIn
from parley.core.errors import BadRequest, Forbidden, TooLarge
from parley.files.services import Refused
from parley.messaging.events import user_ref
from parley.realtime.ratelimit import send_allowed

router = Router(tags=["account"])


def _via(request: HttpRequest) -> str:
    return "token" if request.headers.get("Authorization", "").lower().startswith("bearer ") else "session"


def _out(user: User, via: str) -> dict[str, Any]:
    return {
        **user_ref(user),
        "staff": user.is_staff,
        "auth": via,
        "display_name": user.display_name,
        "email": user.email,
        "email_digest": user.email_digest,
        "avatar": avatar_url(user.avatar),
    }


def _own(user_id: int) -> User:
    """The caller's row as it is now (a token's sign-in is cached for a moment), not a guest's."""
    user = User.objects.get(pk=user_id)
    if user.is_guest:
        raise Forbidden("guests have no settings: sign up first")
    return user


def _checked(form: forms.Form) -> dict[str, Any]:
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise BadRequest(f"{field}: {errors[0]}" if field != "__all__" else str(errors[0]))
    return dict(form.cleaned_data)


def _fresh(user_id: int) -> User:
    return User.objects.get(pk=user_id)


@router.get("/me", response={200: MeOut, ERRORS: ErrorOut})
async def me(request: HttpRequest) -> dict[str, Any]:
    return _out(await call(_fresh, caller(request).pk), _via(request))


def _update(user_id: int, data: MeIn) -> User:
    """Both sections checked first, then written together: a refused email changes no name."""
    with transaction.atomic():
        user = _own(user_id)
        name = None if data.display_name is None else _checked(ProfileForm({"display_name": data.display_name}))
        mail = None
        if data.email is not None or data.email_digest is not None:
            digest = user.email_digest if data.email_digest is None else data.email_digest
            fields = {"email": user.email if data.email is None else data.email, "email_digest": "on" if digest else ""}
            mail = _checked(EmailForm(fields, user=user))
        if name is not None:
            profile_update(user=user, display_name=name["display_name"])
        if mail is not None:
            email_update(user=user, email=mail["email"], digest=mail["email_digest"])
        return user


@router.patch("/me", response={200: MeOut, ERRORS: ErrorOut})
async def me_update(request: HttpRequest, data: MeIn) -> dict[str, Any]:
    """Your display name (``""``: show the username), email (``""``: none) and whether unread
    mentions and DMs are mailed to it (``email_digest``); fields left out stay as they are."""
    user = caller(request)
    await send_allowed(user.pk)
    return _out(await call(_update, user.pk, data), _via(request))


def _avatar_prepare(user_id: int, upload: UploadedFile) -> str:
    try:
        return avatar_prepare(user_id=user_id, upload=upload, size_bytes=upload.size or 0)
    except AvatarTooLarge as exc:
        raise TooLarge(str(exc)) from None
    except AvatarRejected as exc:
        raise Refused(str(exc)) from None


def _avatar(user_id: int, stem: str) -> User:
    try:
        user = _own(user_id)
    except BaseException:
        avatar_delete_files(stem)
        raise
    avatar_use(user=user, stem=stem)
    return user


# Django parses multipart bodies of POSTs only, and ninja's fix for a PUT is a middleware the
# fast path does not know (parley.api.fastpath): the body is parsed here, as a POST's would be.
FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            }
        },
    }
}


def _put_file(request: HttpRequest) -> UploadedFile:
    method = request.method
    request.method = request.META["REQUEST_METHOD"] = "POST"
    try:
        request._load_post_and_files()
    finally:
        request.method = request.META["REQUEST_METHOD"] = method
    file = request.FILES.get("file")
    if file is None:
        raise BadRequest("send the picture as multipart/form-data in the field 'file'")
    return file


@router.put("/me/avatar", response={200: MeOut, UPLOAD_ERRORS: ErrorOut}, openapi_extra=FILE_BODY)
async def avatar_put(request: HttpRequest) -> dict[str, Any]:
    """Your picture: ``multipart/form-data`` with a PNG, JPEG, WebP or GIF in the field ``file``
    (cropped to a square); 415 for anything else, 413 over PARLEY_AVATAR_MAX_BYTES."""
    user = caller(request)
    await send_allowed(user.pk)
    file = _put_file(request)
    await call(_own, user.pk)  # a guest is refused before their picture is decoded
    # decoded and stored off the database thread, then made yours in one crossing
    stem = await asyncio.to_thread(_avatar_prepare, user.pk, file)
    return _out(await call(_avatar, user.pk, stem), _via(request))


def _avatar_remove(user_id: int) -> User:
    user = _own(user_id)
    avatar_remove(user=user)
    return user


@router.delete("/me/avatar", response={200: MeOut, ERRORS: ErrorOut})
async def avatar_delete(request: HttpRequest) -> dict[str, Any]:
    """Back to your initials."""
    user = caller(request)
    await send_allowed(user.pk)
    return _out(await call(_avatar_remove, user.pk), _via(request))


def _password_checked(user: User, data: PasswordIn) -> User:
    """The settings page's form, off the database thread (checking the old password and hashing
    the new one take most of a second each); the user with the new hash, not saved."""
    try:
        new = data.new_password
        form = PasswordForm(user, {"old_password": data.old_password, "new_password1": new, "new_password2": new})
        _checked(form)
        return form.save(commit=False)
    finally:
        connections.close_all()  # this thread's, if the old hash was upgraded (saved) in the check


def _password_save(request: HttpRequest, user: User, session: bool) -> None:
    user.save(update_fields=["password"])
    if session:
        update_session_auth_hash(request, user)  # this session stays signed in; the others end


@router.put("/me/password", response={204: None, ERRORS: ErrorOut})
async def password_change(request: HttpRequest, data: PasswordIn) -> Status[None]:
    """Change your password (the settings page's rules): your other sessions end and their
    sockets close (4401, at the next credential sweep); the session that asked stays signed in.
    Bearer tokens keep working."""
    user = caller(request)
    await send_allowed(user.pk)
    changed = await asyncio.to_thread(_password_checked, await call(_own, user.pk), data)
    await call(_password_save, request, changed, _via(request) == "session")
    return Status(204, None)
