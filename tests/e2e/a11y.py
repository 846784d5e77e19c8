"""The axe-core accessibility check of the browser tests (axe-playwright-python ships axe-core)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

_axe = Axe()


def axe_violations(page: Page, *, context: str | None = None) -> list[str]:
    """Every axe violation on the page as it is now (axe's default rules, as the sidebar's browser
    test runs them), one line each: rule, impact, the offending elements, axe's help text."""
    results = _axe.run(page, context=context)
    lines = []
    for violation in results.response.get("violations", []):
        nodes: list[dict[str, Any]] = violation.get("nodes", [])
        target = nodes[0].get("target") if nodes else "?"
        lines.append(f"{violation['id']} ({violation.get('impact')}): {target} x{len(nodes)}: {violation['help']}")
    return lines
