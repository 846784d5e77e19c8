"""ASGI entry point: HTTP to Django, WebSockets through origin check and auth to the consumers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

from parley.core.gc import tune_gc
from parley.core.gil import tune_switch_interval

tune_gc()
tune_switch_interval()
# Build Django's app (which sets Django up) before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from parley.api.fastpath import ApiFastPath  # noqa: E402
from parley.realtime.routing import websocket_urlpatterns  # noqa: E402
from parley.realtime.runtime import RuntimeApp  # noqa: E402
from parley.realtime.security import SiteOriginValidator  # noqa: E402

# RuntimeApp starts the realtime runtime (hub, repair poll, presence heartbeat, SIGTERM drain) at
# lifespan startup, or before the first WebSocket under servers without lifespan (Daphne).
application = RuntimeApp(
    ProtocolTypeRouter(
        {
            # The API's message post and reads without Django's thread per request; the rest is Django.
            "http": ApiFastPath(django_asgi_app),
            "websocket": SiteOriginValidator(URLRouter(websocket_urlpatterns)),
        }
    )
)
