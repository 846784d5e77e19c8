from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("parley.web.urls")),
    path("", include("parley.files.urls")),
    path("accounts/", include("parley.accounts.urls")),
    path("admin/", admin.site.urls),
]
