"""parley.accounts.avatars on its own: what it makes of the pictures people actually upload."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from parley.accounts import avatars
from parley.accounts.avatars import SIZES, AvatarRejected, avatar_render


def _file(img: Image.Image, fmt: str, **save: object) -> tuple[io.BytesIO, int]:
    data = io.BytesIO()
    img.save(data, format=fmt, **save)
    size = data.tell()
    data.seek(0)
    return data, size


def _decoded(rendered: dict[int, bytes], size: int) -> Image.Image:
    img = Image.open(io.BytesIO(rendered[size]))
    img.load()
    return img


def test_a_transparent_png_keeps_its_transparency() -> None:
    img = Image.new("RGBA", (100, 100), (255, 0, 0, 0))
    img.paste((0, 0, 255, 255), (25, 25, 75, 75))
    data, size = _file(img, "PNG")
    rendered = avatar_render(data, size_bytes=size)
    small = _decoded(rendered, 64)
    assert small.mode == "RGBA"
    assert small.getpixel((0, 0))[3] == 0 and small.getpixel((32, 32))[3] == 255


def test_an_animated_gif_becomes_its_first_frame() -> None:
    frames = [Image.new("P", (60, 40), colour) for colour in (1, 2, 3)]
    data, size = _file(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    rendered = avatar_render(data, size_bytes=size)
    assert {_decoded(rendered, s).size for s in SIZES} == {(s, s) for s in SIZES}
    assert getattr(_decoded(rendered, 256), "n_frames", 1) == 1


def test_a_phone_photo_is_turned_the_way_the_camera_recorded() -> None:
    wide = Image.new("RGB", (200, 100), "white")
    wide.paste((0, 0, 0), (0, 0, 100, 100))  # black on the left half
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to show
    data, size = _file(wide, "JPEG", exif=exif.tobytes())
    big = _decoded(avatar_render(data, size_bytes=size), 256)
    # Upright, the black half is on top: the top row is dark, the bottom row light.
    assert sum(big.getpixel((128, 5))) < 100 and sum(big.getpixel((128, 250))) > 600


def test_too_many_pixels_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(avatars, "MAX_PIXELS", 30 * 30)
    data, size = _file(Image.new("RGB", (31, 31)), "PNG")
    with pytest.raises(AvatarRejected, match="too many pixels"):
        avatar_render(data, size_bytes=size)
    data, size = _file(Image.new("RGB", (30, 30)), "PNG")
    assert set(avatar_render(data, size_bytes=size)) == set(SIZES)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO"])
def test_pictures_in_other_formats_are_refused(fmt: str) -> None:
    data, size = _file(Image.new("RGB", (32, 32)), fmt)
    with pytest.raises(AvatarRejected, match="not a picture Parley can read"):
        avatar_render(data, size_bytes=size)
