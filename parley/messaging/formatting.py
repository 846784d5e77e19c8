"""A message's formatting: a Markdown subset rendered once, when the message is posted or edited,
and carried in its event as ``html`` beside the raw ``body``.

The subset: emphasis (``*``/``_``), strong, strikethrough (``~~``), inline code, fenced and
indented code blocks, quotes, lists, links (written or bare URLs), line breaks, and ``:shortcodes:``
turned into emoji (outside code). No headings, images, tables, rules or raw HTML: a chat line is
not a document, and an image URL would let any poster make every reader's browser fetch it.

markdown-it-py parses (with raw HTML off), then nh3 (ammonia) sanitizes what it made against an
allow-list, so a renderer bug cannot become script in a reader's page. A body with no character
that Markdown or a shortcode could act on skips both: most chat lines are plain text, and posting
is the hot path. Such a message has no ``html`` at all; a client shows its ``body`` as text.
"""

from __future__ import annotations

import re

import emoji
import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = {"p", "br", "strong", "em", "s", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
ALLOWED_ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}

# Characters (and starts of lines) that can make Markdown or a shortcode do something.
_MAYBE_MARKUP = re.compile(r"[*_`~\[\]<>&\\|#!\n\t]|:[\w+-]+:|^\s|^[-+>]|^\d+[.)]\s|www\.|://", re.MULTILINE)

_md = (
    MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True, "typographer": False})
    .enable(["strikethrough", "linkify"])
    .disable(["heading", "lheading", "image", "hr", "html_block", "html_inline"])
)
# A bare URL becomes a link; a bare "example.com" without a scheme stays text.
assert _md.linkify is not None  # linkify-it-py is a dependency
_md.linkify.set({"fuzzy_link": False, "fuzzy_email": False})


def _emojize(tokens: list[Token]) -> None:
    """``:thumbsup:`` to the emoji in text, never inside code spans or blocks."""
    for token in tokens:
        if token.type == "inline" and token.children:
            for child in token.children:
                if child.type == "text" and ":" in child.content:
                    child.content = emoji.emojize(child.content, language="alias")


def has_markup(body: str) -> bool:
    """False when rendering could only wrap the text in a paragraph (no formatting to show)."""
    return _MAYBE_MARKUP.search(body) is not None


def message_html(body: str) -> str | None:
    """The sanitized HTML of ``body``, or None when it is plain text (show ``body`` as text)."""
    if not has_markup(body):
        return None
    tokens = _md.parse(body)
    _emojize(tokens)
    rendered = _md.renderer.render(tokens, _md.options, {})
    clean = nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    ).strip()
    plain = f"<p>{_escape(body)}</p>"
    return None if clean == plain else clean


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
