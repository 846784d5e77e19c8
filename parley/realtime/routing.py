from django.urls import path, re_path

from parley.realtime.consumers.client import ClientConsumer
from parley.realtime.consumers.tutorial import SyncTutorialConsumer, TutorialConsumer
from parley.rooms.slugs import SLUG_PATTERN

websocket_urlpatterns = [
    path("ws/", ClientConsumer.as_asgi()),
    re_path(rf"^ws/chats/sync/(?P<room>{SLUG_PATTERN})/$", SyncTutorialConsumer.as_asgi()),
    re_path(rf"^ws/chats/(?P<room>{SLUG_PATTERN})/$", TutorialConsumer.as_asgi()),
]
