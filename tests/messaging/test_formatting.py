"""Message formatting: the Markdown subset, shortcodes, and the sanitizer against the usual XSS
payloads (every output parsed: only allowed tags and attributes, only http(s)/mailto links)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from parley.messaging.formatting import ALLOWED_TAGS, message_html

PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[x](vbscript:msgbox(1))",
    "<javascript:alert(1)>",
    "![x](http://example.com/a.png)",
    '<svg onload="alert(1)">',
    '"><script>alert(1)</script>',
    "<iframe src=http://evil.example></iframe>",
    "**<b onmouseover=alert(1)>bold</b>**",
    '[x](http://ok.example "a\\" onmouseover=\\"alert(1))',
    "```\n<script>alert(1)</script>\n```",
    "`<img src=x onerror=alert(1)>`",
    "<style>body{display:none}</style>",
    "[x](http://a.example)<!-- <script>alert(1)</script> -->",
]


class Inspect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((tag, name, value) for name, value in attrs)


def _text_of(html: str) -> str:
    """The markup with every allowed tag removed: what remains must hold no raw '<'."""
    return re.sub(r"</?(?:" + "|".join(sorted(ALLOWED_TAGS)) + r")(?:\s[^<>]*)?>", "", html)


def inspect(html: str) -> Inspect:
    found = Inspect()
    found.feed(html)
    return found


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_come_out_harmless(payload: str) -> None:
    html = message_html(payload)
    if html is None:
        return  # shown as text by every client: nothing to inject
    found = inspect(html)
    assert set(found.tags) <= ALLOWED_TAGS, html
    for tag, name, value in found.attrs:
        assert name in {"href", "rel", "start", "title"}, html
        assert not name.startswith("on"), html
        if name == "href":
            assert (value or "").startswith(("http://", "https://", "mailto:")), html
        assert tag in {"a", "ol"}, html
    # What is left of a payload is text: escaped, so a browser shows it and runs nothing.
    assert "<" not in _text_of(html), html


def test_the_subset_renders() -> None:
    assert message_html("just words, nothing else") is None
    assert message_html("a *b* **c** ~~d~~ `e`") == "<p>a <em>b</em> <strong>c</strong> <s>d</s> <code>e</code></p>"
    assert message_html("> said\n\n- one\n- two") == (
        "<blockquote>\n<p>said</p>\n</blockquote>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>"
    )
    assert message_html("```\nx = 1\n```") == "<pre><code>x = 1\n</code></pre>"
    assert message_html("go :rocket: now") == "<p>go 🚀 now</p>"
    assert message_html("`:rocket:`") == "<p><code>:rocket:</code></p>"  # not inside code
    link = message_html("see https://example.com/a?b=1")
    assert link == (
        '<p>see <a href="https://example.com/a?b=1" rel="noopener noreferrer nofollow">https://example.com/a?b=1</a></p>'
    )
    assert message_html("# not a heading") is None  # headings are not in the subset
    assert message_html("a\nb") == "<p>a<br>\nb</p>"
