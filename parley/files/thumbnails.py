"""Pictures read with Pillow: an upload's dimensions (read from its header, cheap), and a
thumbnail (WebP, at most THUMB_SIZE a side, turned upright by its EXIF orientation)."""

from __future__ import annotations

import io
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

THUMB_SIZE = 360
MAX_PIXELS = 40_000_000  # larger images are refused at upload (a decompression bomb's defence)


class NotAnImage(Exception):
    pass


def dimensions(stream: IO[bytes], image_format: str) -> tuple[int, int]:
    """Width and height of the picture (as shown: EXIF rotation applied); raises NotAnImage when
    Pillow cannot read it as ``image_format`` or it has more than MAX_PIXELS."""
    try:
        with Image.open(stream, formats=[image_format]) as image:
            width, height = image.size
            orientation = image.getexif().get(0x0112, 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise NotAnImage(str(exc)) from exc
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise NotAnImage(f"{width}x{height} pixels")
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def thumbnail(stream: IO[bytes]) -> bytes:
    """The first frame, upright, fit in THUMB_SIZE x THUMB_SIZE, as WebP."""
    with Image.open(stream) as image:
        image.seek(0)
        frame = ImageOps.exif_transpose(image)
        frame.thumbnail((THUMB_SIZE, THUMB_SIZE))
        if frame.mode not in ("RGB", "RGBA"):
            frame = frame.convert("RGBA" if "A" in frame.getbands() or "transparency" in frame.info else "RGB")
        out = io.BytesIO()
        frame.save(out, format="WEBP", quality=80, method=4)
    return out.getvalue()
