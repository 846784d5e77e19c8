"""HTTP endpoints of files: upload (``POST /rooms/<slug>/files``) and serving
(``GET /files/<id>/<name>``, ``GET /files/<id>/thumb/``). The page signs in with its session
(and CSRF); bots with the bearer tokens of /ws/. Answers are JSON {code, detail}, as on the wire."""

from __future__ import annotations

import logging
import math

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from parley.accounts.models import User
from parley.accounts.services import user_for_token
from parley.core.errors import Forbidden, NotFound, ParleyError, RateLimited, TooLarge
from parley.files import sniff
from parley.files.models import Attachment
from parley.files.selectors import attachment_for_reader
from parley.files.services import Refused, attachment_ref, attachment_upload
from parley.files.storage import attachments_storage

log = logging.getLogger("parley.files")

_STATUS = {Refused: 415, TooLarge: 413, RateLimited: 429, NotFound: 404, Forbidden: 403}
MULTIPART_SLACK = 64 * 1024  # the multipart envelope around the file
# Served files run nothing and load nothing, even when opened on their own (an image or a PDF).
FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
CACHE_CONTROL = "private, max-age=600"  # never a shared cache; a lost membership is honoured within 10 minutes


def _requester(request: HttpRequest) -> tuple[User | None, bool]:
    """The user, and whether they came with a bearer token (no cookie: no CSRF to check)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return user_for_token(token=header[7:].strip()), True
    if request.user.is_authenticated:
        assert isinstance(request.user, User)
        return request.user, False
    return None, False


def _error(status: int, code: str, detail: str, retry_after: float | None = None) -> JsonResponse:
    response = JsonResponse({"code": code, "detail": detail}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def _refused(exc: ParleyError) -> JsonResponse:
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400 if exc.code == "bad_request" else 500)
    return _error(status, exc.code, exc.detail, exc.retry_after)


_csrf = CsrfViewMiddleware(lambda request: HttpResponse())


def _csrf_refused(request: HttpRequest) -> bool:
    return _csrf.process_view(request, _csrf_checked, (), {}) is not None


def _csrf_checked(request: HttpRequest) -> HttpResponse:  # the "view" the check is made for
    return HttpResponse()


@csrf_exempt  # checked below, for cookie sign-ins only
@require_POST
def upload(request: HttpRequest, slug: str) -> HttpResponse:
    """One file (form field ``file``) to the room; 201 with the file's ref, to send with
    ``send``'s ``files`` within the same room."""
    user, bearer = _requester(request)
    if user is None:
        return _error(401, "not_authenticated", "sign in, or send Authorization: Bearer <token>")
    if not bearer and _csrf_refused(request):
        return _error(403, "forbidden", "the CSRF check failed: reload the page")
    limit = settings.PARLEY_UPLOAD_MAX_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit + MULTIPART_SLACK:  # refused before the body is read
        return _refused(TooLarge(f"the file is over the {limit / (1024 * 1024):.0f} MiB limit"))
    file = request.FILES.get("file")
    if file is None:
        return _error(400, "bad_request", "send the file as multipart/form-data in the field 'file'")
    try:
        attachment = attachment_upload(user=user, room=slug, name=file.name or "", size=file.size or 0, stream=file)
    except ParleyError as exc:
        log.info("upload refused user=%s room=%s code=%s detail=%s", user.pk, slug, exc.code, exc.detail)
        return _refused(exc)
    return JsonResponse(attachment_ref(attachment), status=201)


def _readable(request: HttpRequest, file_id: int) -> Attachment:
    user, _ = _requester(request)
    if user is None:
        raise Http404("no such file")
    try:
        return attachment_for_reader(user=user, attachment_id=file_id)
    except NotFound:
        raise Http404("no such file") from None


def _file(stored: str, content_type: str, filename: str) -> FileResponse:
    try:
        handle = attachments_storage().open(stored, "rb")
    except FileNotFoundError:
        raise Http404("no such file") from None
    inline = sniff.inline(content_type)
    response = FileResponse(handle, content_type=content_type, as_attachment=not inline, filename=filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cache-Control"] = CACHE_CONTROL
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


@require_safe
def serve(request: HttpRequest, file_id: int, name: str) -> HttpResponseBase:
    attachment = _readable(request, file_id)
    if name != attachment.name:
        raise Http404("no such file")
    return _file(attachment.storage_name, attachment.content_type, attachment.name)


@require_safe
def thumb(request: HttpRequest, file_id: int) -> HttpResponseBase:
    attachment = _readable(request, file_id)
    if attachment.thumb_name is None:
        raise Http404("no thumbnail (yet)")
    stem = attachment.name.rpartition(".")[0] or attachment.name
    return _file(attachment.thumb_name, "image/webp", f"{stem}.webp")
