from typing import Any

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "parley.realtime"
    label = "realtime"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        user_logged_out.connect(_close_sockets_on_logout, dispatch_uid="parley.close_sockets_on_logout")


def _close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # Logout is an auth event, not a chat event: the one signal Parley listens to.
    from parley.realtime.publish import user_sessions_end

    if user is not None and user.pk is not None:
        user_sessions_end(user_id=user.pk)
