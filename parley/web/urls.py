from django.urls import path, re_path

from parley.rooms.slugs import SLUG_PATTERN
from parley.web import views

urlpatterns = [
    path("", views.home, name="home"),
    re_path(rf"^rooms/(?P<slug>{SLUG_PATTERN})/$", views.room, name="room"),
    re_path(r"^invite/(?P<code>[A-Za-z0-9_-]{10,100})/$", views.invite, name="invite"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics_view, name="metrics"),
]
