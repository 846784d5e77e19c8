"""What an upload is, from its bytes, not from what the client says: the type it is served with,
whether it may be shown inline, and what is refused.

The policy is a deny-list: any file may be shared (as Slack, Zulip and Element allow) except
programs and active content (executables, Windows scripts, HTML, SVG, XML), refused by their
bytes and by their name's extension. Everything is served with X-Content-Type-Options: nosniff; only the
image types below and PDF are served inline (with a CSP sandbox), everything else as a download
with the type it was sniffed as, or application/octet-stream.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from parley.core.text import text_clean

NAME_MAX = 200
INLINE_IMAGES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
INLINE_TYPES = {*INLINE_IMAGES.values(), "application/pdf"}

# Extensions refused whatever the bytes say: a download opened from disk runs by its extension
# (Windows runs these on a double click; a browser renders the markup ones). Source code such as
# .py or .sh is shared as text: a download carries no execute bit.
DENIED_EXTENSIONS = frozenset(
    {
        *("exe", "dll", "com", "scr", "msi", "msp", "bat", "cmd", "ps1", "psm1", "vbs", "vbe", "js", "jse"),
        *("wsf", "wsh", "hta", "cpl", "jar", "apk", "app", "dmg", "pkg", "lnk", "reg", "elf", "so", "dylib"),
        *("html", "htm", "xhtml", "shtml", "mht", "mhtml", "svg", "svgz", "xml", "xsl", "xslt", "swf"),
    }
)
# Leading bytes of programs and markup a browser or a shell would run.
_DENIED_PREFIXES = (
    (b"MZ", "a Windows program"),
    (b"\x7fELF", "a Linux program"),
    (b"\xcf\xfa\xed\xfe", "a macOS program"),
    (b"\xce\xfa\xed\xfe", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "a program"),
)
_DENIED_MARKUP = (b"<!doctype html", b"<html", b"<script", b"<svg", b"<?xml", b"<iframe", b"<body", b"<head")
_SIGNATURES = (
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"fLaC", "audio/flac"),
)
_ZIP_DOCUMENTS = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
}


class Refused(Exception):
    """The file may not be shared; ``detail`` says why, for the uploader."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Kind:
    content_type: str
    image_format: str | None = None  # Pillow's format name for the inline image types


def name_clean(name: str) -> str:
    """The uploader's file name made safe to show and to send back in Content-Disposition: the
    last path part, NFC, no control or bidi characters, at most NAME_MAX characters."""
    name = unicodedata.normalize("NFC", text_clean(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: NAME_MAX - len(ext) - 1] + dot + ext) if dot and len(ext) <= 16 else name[:NAME_MAX]
    return name or "file"


def extension(name: str) -> str:
    return name.rpartition(".")[2].lower() if "." in name else ""


def sniff(head: bytes, name: str) -> Kind:
    """The kind of a file from its first bytes (a few KiB) and its cleaned name; raises Refused."""
    ext = extension(name)
    if ext in DENIED_EXTENSIONS:
        raise Refused(f"{ext.upper()} files cannot be shared here (programs, HTML and SVG are refused)")
    for prefix, what in _DENIED_PREFIXES:
        if head.startswith(prefix):
            raise Refused(f"this file is {what}; programs cannot be shared here")
    start = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if any(start.startswith(tag) for tag in _DENIED_MARKUP) or b"<script" in head[:1024].lower():
        raise Refused("HTML, SVG and XML files cannot be shared here")
    image = _image_format(head)
    if image is not None:
        return Kind(content_type=INLINE_IMAGES[image], image_format=image)
    for prefix, content_type in _SIGNATURES:
        if head.startswith(prefix):
            if content_type == "application/zip" and ext in _ZIP_DOCUMENTS:
                return Kind(content_type=_ZIP_DOCUMENTS[ext])
            return Kind(content_type=content_type)
    if _is_text(head):
        return Kind(content_type="text/plain; charset=utf-8")
    return Kind(content_type="application/octet-stream")


def _image_format(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3  # a character cut at the end of the sample
    return True


def inline(content_type: str) -> bool:
    return content_type in INLINE_TYPES
