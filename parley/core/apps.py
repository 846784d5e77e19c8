from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "parley.core"
    label = "parley_core"

    def ready(self) -> None:
        from parley.core import checks  # noqa: F401  (registers the deploy checks)
