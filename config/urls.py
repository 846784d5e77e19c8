from django.contrib import admin
from django.urls import include, path, re_path

from parley.api.api import api
from parley.api.hooks import hook_post

urlpatterns = [
    path("", include("parley.web.urls")),
    path("accounts/", include("parley.accounts.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    re_path(r"^hooks/(?P<secret>[A-Za-z0-9_-]{1,128})$", hook_post, name="hook"),
]
