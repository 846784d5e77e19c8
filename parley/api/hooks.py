"""``POST /hooks/<secret>``: an incoming webhook posts a message as its bot user.

The body is Slack's incoming-webhook shape, ``{"text": "..."}``. Other Slack fields
(``username``, ``icon_emoji``, ``channel``, ``blocks``, ...) are accepted and ignored: the
message always shows the webhook's own name, so a leaked URL cannot post as someone else, and
always goes to the webhook's room. A Parley extra: ``cid`` (1-64 characters) makes a retry safe,
as on ``/ws/`` (without it, every request is a new message). The post goes through the same
group commit, access rule and per-user send bucket (the bot's) as every other post.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from parley.api.crossing import call, post
from parley.api.errors import error_response, internal_error
from parley.api.responses import raw
from parley.core import json
from parley.core.errors import ParleyError
from parley.hooks.services import webhook_for_secret
from parley.messaging.services import PostRequest
from parley.realtime.ratelimit import send_allowed


@csrf_exempt
async def hook_post(request: HttpRequest, secret: str) -> HttpResponse:
    if request.method != "POST":
        response = error_response("bad_request", 'POST JSON {"text": ...} to this URL', status=405)
        response["Allow"] = "POST"
        return response
    limit = settings.PARLEY_MAX_FRAME_BYTES
    if int(request.headers.get("Content-Length") or 0) > limit or len(request.body) > limit:
        return error_response("too_large", f"the body is larger than {limit} bytes")
    try:
        found = await call(webhook_for_secret, secret=secret)
        if found is None:
            return error_response("not_found", "no such webhook (revoked, or never made)")
        bot, room = found
        try:
            payload = json.loads(request.body)
        except json.DecodeError:
            return error_response("bad_request", "the body is not JSON")
        if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
            return error_response("bad_request", 'the body must be a JSON object with a string "text"')
        cid = payload.get("cid")
        if cid is None:
            cid = "hook-" + secrets.token_urlsafe(12)
        await send_allowed(bot.pk)
        posted = await post(PostRequest(user=bot, room=room, cid=cid, body=payload["text"]))
    except ParleyError as exc:
        return error_response(exc.code, exc.detail, retry_after=exc.retry_after)
    except Exception as exc:
        return internal_error(request, exc)
    text = json.dumps({"ok": True, "room": posted.room, "seq": posted.seq, "cid": posted.cid})
    return raw(text, status=201 if posted.created else 200)
