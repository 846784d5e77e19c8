"""Outgoing webhooks: your subscriptions of a URL to a room's events or to your mentions, their
deliveries (dead ones included) and redelivery. The service layer is parley.hooks.outgoing."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router

from parley.api.auth import caller
from parley.api.crossing import call
from parley.api.responses import ERRORS
from parley.api.schemas import DeliveryOut, ErrorOut, SubscriptionIn, SubscriptionMadeOut, SubscriptionOut
from parley.hooks import outgoing
from parley.hooks.sending import url_check
from parley.realtime.ratelimit import send_allowed

router = Router(tags=["subscriptions"])


@router.get("/subscriptions", response={200: dict[str, list[SubscriptionOut]], ERRORS: ErrorOut})
async def subscriptions_list(request: HttpRequest) -> dict[str, Any]:
    """Your outgoing webhook subscriptions (never their secrets)."""
    found = await call(outgoing.subscriptions_of, actor=caller(request))
    return {"subscriptions": [asdict(info) for info in found]}


@router.post("/subscriptions", response={201: SubscriptionMadeOut, ERRORS: ErrorOut})
async def subscription_create(request: HttpRequest, data: SubscriptionIn) -> tuple[int, dict[str, Any]]:
    """Subscribe a URL to a room's events or to your mentions; the signing secret is shown in
    this answer only."""
    user = caller(request)
    await send_allowed(user.pk)
    await asyncio.to_thread(url_check, data.url, resolve=True)  # a DNS lookup: not on the database thread
    info, secret = await call(
        outgoing.subscription_create, actor=user, url=data.url, events=data.events, room=data.room
    )
    return 201, {**asdict(info), "secret": secret}


@router.get("/subscriptions/{sub_id}", response={200: SubscriptionOut, ERRORS: ErrorOut})
async def subscription_get(request: HttpRequest, sub_id: int) -> dict[str, Any]:
    return asdict(await call(outgoing.subscription_get, actor=caller(request), sub_id=sub_id))


@router.delete("/subscriptions/{sub_id}", response={204: None, ERRORS: ErrorOut})
async def subscription_delete(request: HttpRequest, sub_id: int) -> tuple[int, None]:
    """Stop it: nothing more is sent, its owed and dead deliveries are dropped."""
    await call(outgoing.subscription_delete, actor=caller(request), sub_id=sub_id)
    return 204, None


@router.get("/subscriptions/{sub_id}/deliveries", response={200: dict[str, list[DeliveryOut]], ERRORS: ErrorOut})
async def deliveries_list(
    request: HttpRequest,
    sub_id: int,
    state: Literal["pending", "ok", "dead"] | None = None,
    before: int | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The subscription's deliveries, newest first; ``before`` (a delivery id) pages back."""
    found = await call(
        outgoing.deliveries_of, actor=caller(request), sub_id=sub_id, state=state, before=before, limit=limit
    )
    return {"deliveries": [asdict(info) for info in found]}


@router.post(
    "/subscriptions/{sub_id}/deliveries/{delivery_id}/redeliver", response={202: DeliveryOut, ERRORS: ErrorOut}
)
async def delivery_redeliver(request: HttpRequest, sub_id: int, delivery_id: int) -> tuple[int, dict[str, Any]]:
    """Try a dead delivery again, from its first attempt."""
    user = caller(request)
    await send_allowed(user.pk)
    info = await call(outgoing.delivery_redeliver, actor=user, sub_id=sub_id, delivery_id=delivery_id)
    return 202, asdict(info)
