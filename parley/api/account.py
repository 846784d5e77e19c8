"""The caller's bearer tokens; a room's incoming webhooks."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from parley.accounts.models import ApiToken
from parley.accounts.selectors import TokenInfo, token_list
from parley.accounts.services import token_create_for, token_revoke_own
from parley.api.auth import caller
from parley.api.crossing import call
from parley.api.responses import ERRORS
from parley.api.schemas import ErrorOut, TokenIn, TokenMadeOut, TokenOut, WebhookIn, WebhookMadeOut, WebhookOut
from parley.hooks.services import HookInfo, webhook_create, webhook_revoke, webhooks_of
from parley.messaging.events import user_ref
from parley.realtime.ratelimit import send_allowed

router = Router(tags=["account"])


def _token(row: ApiToken | TokenInfo) -> dict[str, Any]:
    return {
        "id": row.pk if isinstance(row, ApiToken) else row.id,
        "name": row.name,
        "created": row.created_at,
        "last_used": row.last_used_at,
    }


@router.get("/tokens", response={200: dict[str, list[TokenOut]], ERRORS: ErrorOut})
async def tokens_list(request: HttpRequest) -> dict[str, Any]:
    """Your bearer tokens, newest first (never their secrets)."""
    return {"tokens": [_token(row) for row in await call(token_list, user=caller(request))]}


@router.post("/tokens", response={201: TokenMadeOut, ERRORS: ErrorOut})
async def token_create(request: HttpRequest, data: TokenIn) -> Status[dict[str, Any]]:
    """A new bearer token for you; the answer is the only time it is shown."""
    user = caller(request)
    await send_allowed(user.pk)
    row, token = await call(token_create_for, user=user, name=data.name)
    return Status(201, {**_token(row), "token": token})


@router.delete("/tokens/{token_id}", response={204: None, ERRORS: ErrorOut})
async def token_revoke(request: HttpRequest, token_id: int) -> Status[None]:
    """Revoke one of your tokens: sockets opened with it close (4401), requests with it get 401."""
    await call(token_revoke_own, user=caller(request), token_id=token_id)
    return Status(204, None)


def _hook(info: HookInfo) -> dict[str, Any]:
    return {"id": info.id, "room": info.room, "name": info.name, "bot": user_ref(info.bot), "created": info.created}


@router.get("/rooms/{room}/webhooks", response={200: dict[str, list[WebhookOut]], ERRORS: ErrorOut}, tags=["webhooks"])
async def webhooks_list(request: HttpRequest, room: str) -> dict[str, Any]:
    """The room's incoming webhooks (owners and admins)."""
    return {"webhooks": [_hook(info) for info in await call(webhooks_of, actor=caller(request), slug=room)]}


@router.post("/rooms/{room}/webhooks", response={201: WebhookMadeOut, ERRORS: ErrorOut}, tags=["webhooks"])
async def webhooks_create(request: HttpRequest, room: str, data: WebhookIn) -> Status[dict[str, Any]]:
    """A new incoming webhook (owners and admins): its secret URL is shown in this answer only."""
    user = caller(request)
    await send_allowed(user.pk)
    info, secret = await call(webhook_create, actor=user, slug=room, name=data.name)
    return Status(201, {**_hook(info), "url": request.build_absolute_uri(f"/hooks/{secret}")})


@router.delete("/rooms/{room}/webhooks/{hook_id}", response={204: None, ERRORS: ErrorOut}, tags=["webhooks"])
async def webhooks_revoke(request: HttpRequest, room: str, hook_id: int) -> Status[None]:
    await call(webhook_revoke, actor=caller(request), slug=room, hook_id=hook_id)
    return Status(204, None)
