from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "parley.core"
    label = "parley_core"
