"""WebSocket routes. ``/ws/`` (protocol v1) authenticates with LeanAuthMiddleware; the tutorial
routes keep the Channels tutorial's AuthMiddlewareStack (plus bearer tokens), inside
UnavailableRefusal (1013 when the session lookup fails). The origin check wraps them all
(config/asgi.py).

The tutorial routes take any room name up to the next ``/``: their consumers answer a name
outside the slug rule with an error and close 4400 (a pattern that did not match would make
the router raise, which the server answers with HTTP 500). Any other path is refused at the
handshake (HTTP 403)."""

from channels.auth import AuthMiddlewareStack
from django.urls import path, re_path

from parley.realtime.consumers.client import ClientConsumer
from parley.realtime.consumers.refuse import RefuseConsumer
from parley.realtime.consumers.tutorial import SyncTutorialConsumer, TutorialConsumer
from parley.realtime.security import LeanAuthMiddleware, TokenAuthMiddleware, UnavailableRefusal

websocket_urlpatterns = [
    path("ws/", LeanAuthMiddleware(ClientConsumer.as_asgi())),
    re_path(
        r"^ws/chats/sync/(?P<room>[^/]{1,200})/$",
        UnavailableRefusal(AuthMiddlewareStack(TokenAuthMiddleware(SyncTutorialConsumer.as_asgi()))),
    ),
    re_path(
        r"^ws/chats/(?P<room>[^/]{1,200})/$",
        UnavailableRefusal(AuthMiddlewareStack(TokenAuthMiddleware(TutorialConsumer.as_asgi()))),
    ),
    re_path(r"", RefuseConsumer.as_asgi()),
]
