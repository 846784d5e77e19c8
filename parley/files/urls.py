from django.urls import path, re_path

from parley.files import views
from parley.rooms.slugs import SLUG_PATTERN

urlpatterns = [
    re_path(rf"^rooms/(?P<slug>{SLUG_PATTERN})/files$", views.upload, name="file_upload"),
    path("files/<int:file_id>/thumb/", views.thumb, name="file_thumb"),
    path("files/<int:file_id>/<str:name>", views.serve, name="file"),
]
