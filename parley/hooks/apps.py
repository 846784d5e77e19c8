from django.apps import AppConfig


class HooksConfig(AppConfig):
    name = "parley.hooks"
    label = "hooks"
