"""The axe-core accessibility check of the browser tests (axe-playwright-python ships axe-core)."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

_axe = Axe()


def axe_violations(page: Page, *, context: str | None = None) -> list[str]:
    """Every axe violation on the page as it is now (WCAG 2.1 A and AA and axe's best practices),
    one line each: rule, impact, the first offending element, axe's help text."""
    options = {"resultTypes": ["violations"], "runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}
    results = _axe.run(page, context=context, options=options)
    lines = []
    for violation in results.response.get("violations", []):
        nodes: list[dict[str, Any]] = violation.get("nodes", [])
        target = nodes[0].get("target") if nodes else "?"
        lines.append(f"{violation['id']} ({violation.get('impact')}): {target} x{len(nodes)}: {violation['help']}")
    return lines
