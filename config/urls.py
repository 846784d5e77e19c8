import re

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from parley.api.api import api
from parley.api.hooks import hook_post
from parley.web.media import media

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("parley.web.urls")),
    path("", include("parley.files.urls")),
    path("accounts/", include("parley.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^hooks/(?P<secret>[A-Za-z0-9_-]{1,128})$", hook_post, name="hook"),
]
# MEDIA_URL when it is a path on this site (not another host's URL) and Parley is to serve it.
if settings.PARLEY_SERVE_MEDIA and settings.MEDIA_URL.startswith("/"):
    urlpatterns.append(re_path(rf"^{re.escape(settings.MEDIA_URL.strip('/'))}/(?P<path>.+)$", media, name="media"))
