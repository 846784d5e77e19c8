from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "parley.presence"
    label = "presence"
