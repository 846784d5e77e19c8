"""Hygiene for user text that other people will see: bodies, names, titles.

Explicit bidirectional controls (embeddings, overrides, isolates: U+202A-U+202E, U+2066-U+2069)
let one person reorder what everybody else sees: ``gnp.exe`` followed by U+202E shows as
``exe.png``, and an unclosed override bleeds into the text after it (the typing line, the next
message). They are removed. The implicit marks (U+200E, U+200F, U+061C) stay: they only nudge
the direction of neighbouring neutral characters and are needed to write mixed-direction text.
The page also renders every piece of user text in its own bidi isolate.

A body made only of invisible characters (zero-width spaces, joiners, format characters, blank
"letters" such as U+3164) would show as an empty bubble; ``text_visible`` tells it apart.
"""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = {cp: None for cp in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
# Letters and symbols that draw nothing (Hangul fillers, the braille blank, Mongolian vowel separator).
_BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})


def text_clean(text: str) -> str:
    """``text`` without explicit bidi controls. ASCII text is returned as it is, at no cost."""
    if text.isascii():
        return text
    return text.translate(_BIDI_CONTROLS)


def text_visible(text: str) -> bool:
    """True if ``text`` has at least one character that draws something."""
    if text.isascii():
        return not text.isspace() and any(c.isprintable() and not c.isspace() for c in text)
    return any(c not in _BLANK and unicodedata.category(c) not in _INVISIBLE_CATEGORIES for c in text)
