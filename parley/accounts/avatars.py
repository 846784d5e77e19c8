"""Avatars: an uploaded picture, checked by decoding it, cropped to a square and stored at two sizes.

Nothing a person uploads is served as it came: the picture is decoded with Pillow (so a file that
only claims to be an image by its name or type is refused) and written out again as WebP, at
``SIZES`` pixels square. The stored files go through Django's storage API (``default_storage``:
FileSystemStorage under ``MEDIA_ROOT`` unless the deployment configures another). Each upload gets
a new random name, so a file never changes once written and may be cached for ever; the name of the
user's current pair is ``User.avatar`` (a stem: ``<stem>-256.webp`` and ``<stem>-64.webp``).
Replaced and removed files are deleted once the change commits. Events already stored keep the URL
they were posted with; the page shows the initials when that file is gone.
"""

from __future__ import annotations

import io
import logging
import secrets
import warnings
from typing import IO

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, ImageOps, UnidentifiedImageError

log = logging.getLogger("parley.accounts")

SIZES = (256, 64)  # the settings page shows the first, events carry the second (32 px at 2x)
EVENT_SIZE = 64
FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "WEBP": "WebP", "GIF": "GIF"}  # Pillow's name -> the one people know
MAX_PIXELS = 40_000_000  # larger pictures are refused before they are decoded (decompression bombs)


class AvatarRejected(ValueError):
    """The upload is not a picture Parley takes; the message says why, for the person."""


class AvatarTooLarge(AvatarRejected):
    """The upload is over PARLEY_AVATAR_MAX_BYTES (the API answers 413 rather than 415)."""


def avatar_name(stem: str, size: int) -> str:
    return f"{stem}-{size}.webp"


def avatar_url(stem: str, size: int = EVENT_SIZE) -> str | None:
    """The URL of a user's avatar at ``size`` (one of SIZES), or None when they have none.
    String work only for the file system storage: cheap enough for every event's ``user``."""
    if not stem:
        return None
    return default_storage.url(avatar_name(stem, size))


def avatar_render(upload: IO[bytes], *, size_bytes: int) -> dict[int, bytes]:
    """Decode ``upload`` and return the square WebP of each of SIZES. Raises AvatarRejected for a
    file that is too large, is not a PNG, JPEG, WebP or GIF picture, or cannot be decoded."""
    limit = settings.PARLEY_AVATAR_MAX_BYTES
    if size_bytes > limit:
        raise AvatarTooLarge(f"That file is {_mb(size_bytes)}; pictures can be at most {_mb(limit)}.")
    names = list(FORMATS.values())
    kinds = f"{', '.join(names[:-1])} or {names[-1]}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(upload, formats=list(FORMATS))
            if picture.width * picture.height > MAX_PIXELS:
                raise AvatarRejected("That picture has too many pixels; use one under 40 megapixels.")
            picture.load()  # the whole file is decoded here: a truncated or corrupt one fails now
    except AvatarRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise AvatarRejected(f"That file is not a picture Parley can read. Upload a {kinds} image.") from None
    except (OSError, SyntaxError, ValueError):  # what Pillow raises for damaged data
        raise AvatarRejected(f"That picture is damaged or incomplete. Upload a {kinds} image.") from None
    upright = ImageOps.exif_transpose(picture)  # phone photos: the way up the camera recorded
    upright = upright.convert("RGBA" if _has_alpha(upright) else "RGB")
    rendered: dict[int, bytes] = {}
    for size in SIZES:
        square = ImageOps.fit(upright, (size, size), method=Image.Resampling.LANCZOS)
        out = io.BytesIO()
        square.save(out, format="WEBP", quality=85, method=4)
        rendered[size] = out.getvalue()
    return rendered


def avatar_store(rendered: dict[int, bytes], *, user_id: int) -> str:
    """Write a rendered avatar under a new random stem and return the stem."""
    stem = f"avatars/{user_id}/{secrets.token_urlsafe(12)}"
    for size, data in rendered.items():
        saved = default_storage.save(avatar_name(stem, size), ContentFile(data))
        if saved != avatar_name(stem, size):  # the storage renamed it: a clash a random stem never has
            raise RuntimeError(f"storage saved {saved!r} for {avatar_name(stem, size)!r}")
    return stem


def avatar_delete(stem: str) -> None:
    """Delete a stem's files; a missing file or a storage error is logged, never raised."""
    if not stem:
        return
    for size in SIZES:
        try:
            default_storage.delete(avatar_name(stem, size))
        except Exception:
            log.warning("could not delete avatar file %s", avatar_name(stem, size), exc_info=True)


def _has_alpha(picture: Image.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or (picture.mode == "P" and "transparency" in picture.info)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
