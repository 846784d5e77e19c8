"""WebSocket routes. ``/ws/`` (protocol v1) authenticates with LeanAuthMiddleware; the tutorial
routes keep the Channels tutorial's AuthMiddlewareStack (plus bearer tokens). The origin check
wraps them all (config/asgi.py)."""

from channels.auth import AuthMiddlewareStack
from django.urls import path, re_path

from parley.realtime.consumers.client import ClientConsumer
from parley.realtime.consumers.tutorial import SyncTutorialConsumer, TutorialConsumer
from parley.realtime.security import LeanAuthMiddleware, TokenAuthMiddleware
from parley.rooms.slugs import SLUG_PATTERN

websocket_urlpatterns = [
    path("ws/", LeanAuthMiddleware(ClientConsumer.as_asgi())),
    re_path(
        rf"^ws/chats/sync/(?P<room>{SLUG_PATTERN})/$",
        AuthMiddlewareStack(TokenAuthMiddleware(SyncTutorialConsumer.as_asgi())),
    ),
    re_path(
        rf"^ws/chats/(?P<room>{SLUG_PATTERN})/$",
        AuthMiddlewareStack(TokenAuthMiddleware(TutorialConsumer.as_asgi())),
    ),
]
