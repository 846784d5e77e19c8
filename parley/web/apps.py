from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "parley.web"
    label = "web"

    def ready(self) -> None:
        from parley.web import metrics_access  # noqa: F401  (registers the PARLEY_METRICS_ALLOW check)
