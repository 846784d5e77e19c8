"""Uploaded files (avatars) under MEDIA_URL, from the storage's directory, when Parley serves them.

Every stored name is new for each upload and never rewritten (parley.accounts.avatars), so a file
may be cached for a year. A proxy that serves MEDIA_ROOT itself takes this off the ASGI processes
(docs/deploy.md, "Uploads"); PARLEY_SERVE_MEDIA=0 then leaves the route out.
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.static import serve

CACHE_CONTROL = "public, max-age=31536000, immutable"


def media(request: HttpRequest, path: str) -> HttpResponse | FileResponse:
    response = serve(request, path, document_root=str(settings.MEDIA_ROOT))
    if response.status_code == 200:
        response["Cache-Control"] = CACHE_CONTROL
    return response
