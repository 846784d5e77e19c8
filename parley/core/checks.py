"""Deployment checks that Django's `check --deploy` cannot know about (ASGI, Channels, Redis)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def parley_deploy_checks(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if "*" in settings.ALLOWED_HOSTS:
        found.append(
            Warning(
                "ALLOWED_HOSTS contains '*': the WebSocket origin check then accepts every origin.",
                hint="List the site's host names.",
                id="parley.W001",
            )
        )
    if settings.PARLEY_CHANNEL_LAYER == "memory":
        found.append(
            Warning(
                "The in-memory channel layer serves one process only.",
                hint="Set REDIS_URL unless Parley really runs as a single process (WORKERS=1).",
                id="parley.W002",
            )
        )
    redis_url = settings.REDIS_URL
    if redis_url:
        parts = urlsplit(redis_url)
        if parts.scheme != "rediss" and not parts.password and parts.hostname not in {"127.0.0.1", "localhost", "::1"}:
            found.append(
                Warning(
                    "REDIS_URL reaches another machine without TLS or a password.",
                    hint="Use rediss:// or redis://:password@host, or keep Redis on loopback.",
                    id="parley.W003",
                )
            )
    return found
