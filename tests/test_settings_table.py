"""docs/deploy.md's environment table names every variable the code reads, and nothing else.

The reads are found in the source, not listed by hand: every call of config/env.py's helpers
(env_str, env_bool, env_int, env_list) and every os.environ / os.getenv read, in config/,
bin/'s Python scripts, manage.py and parley/ (the bench tool's own knobs, in parley/bench, are documented
with the benchmarks). A read whose variable name is not a literal cannot be checked, so it fails
too, except inside config/env.py's helpers themselves.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV_HELPERS = {"env_str", "env_bool", "env_int", "env_list"}
HELPERS_MODULE = ROOT / "config" / "env.py"
NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def sources() -> list[Path]:
    scripts = [p for p in sorted((ROOT / "bin").iterdir()) if p.read_bytes().startswith(b"#!/usr/bin/env python")]
    files = [*scripts, ROOT / "manage.py", *sorted((ROOT / "config").rglob("*.py"))]
    files += [p for p in sorted((ROOT / "parley").rglob("*.py")) if "bench" not in p.relative_to(ROOT).parts]
    return files


def _is_environ(node: ast.AST) -> bool:
    """``os.environ`` or a bare ``environ``."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ" and isinstance(node.value, ast.Name) and node.value.id == "os"
    return isinstance(node, ast.Name) and node.id == "environ"


def _read_name(node: ast.AST) -> ast.expr | None:
    """The expression naming the variable, if ``node`` reads one from the environment."""
    if isinstance(node, ast.Call):
        func = node.func
        called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        if called in ENV_HELPERS or called == "getenv":
            return node.args[0] if node.args else None
        if isinstance(func, ast.Attribute) and func.attr in {"get", "setdefault", "pop"} and _is_environ(func.value):
            return node.args[0] if node.args else None
    if isinstance(node, ast.Subscript) and _is_environ(node.value):
        return node.slice
    if isinstance(node, ast.Compare) and any(_is_environ(c) for c in node.comparators):
        return node.left
    return None


def env_reads(source: str, *, where: str, helpers_module: bool = False) -> tuple[set[str], list[str]]:
    """Variables read in ``source``, and the places whose variable name is not a literal."""
    tree = ast.parse(source)
    helper_nodes: set[int] = set()
    if helpers_module:
        for fn in tree.body:
            if isinstance(fn, ast.FunctionDef) and fn.name in ENV_HELPERS:
                helper_nodes.update(id(n) for n in ast.walk(fn))
    names: set[str] = set()
    dynamic: list[str] = []
    for node in ast.walk(tree):
        named = _read_name(node)
        if named is None or id(node) in helper_nodes:
            continue
        if isinstance(named, ast.Constant) and isinstance(named.value, str):
            names.add(named.value)
        else:
            dynamic.append(f"{where}:{node.lineno}")  # type: ignore[attr-defined]
    return names, dynamic


def documented(markdown: str) -> set[str]:
    """Variables named in the first column of the table under '## Environment'."""
    lines = markdown.splitlines()
    start = lines.index("## Environment")
    rows: list[str] = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append(line)
        elif rows or line.startswith("#"):
            break  # the table ended, or the section did without one
    names: set[str] = set()
    for row in rows[2:]:  # after the header and its separator
        first = row.split("|")[1]
        names.update(n for n in re.findall(r"`([^`]+)`", first) if NAME.match(n))
    return names


def test_every_variable_read_has_a_row_and_every_row_is_read() -> None:
    read: set[str] = set()
    dynamic: list[str] = []
    for path in sources():
        names, unknown = env_reads(
            path.read_text(), where=str(path.relative_to(ROOT)), helpers_module=path == HELPERS_MODULE
        )
        read |= names
        dynamic += unknown
    table = documented((ROOT / "docs" / "deploy.md").read_text())
    assert not dynamic, f"environment reads whose variable is not a literal (name it): {dynamic}"
    assert not sorted(read - table), f"read but missing from docs/deploy.md's table: {sorted(read - table)}"
    assert not sorted(table - read), f"in docs/deploy.md's table but read nowhere: {sorted(table - read)}"
    assert {"DATABASE_URL", "PARLEY_LOG_LEVEL", "PROXY_HEADERS", "PARLEY_GC_THRESHOLD"} <= read  # the scan sees


def test_the_scan_finds_every_way_of_reading() -> None:
    source = """
import os
from os import environ
from config.env import env_bool, env_int, env_list, env_str
A = env_str("A_STR", "x")
B = env_bool("B_BOOL", False)
C = env_int("C_INT", 1)
D = env_list("D_LIST", [])
E = os.environ.get("E_GET")
F = os.environ["F_ITEM"]
G = os.getenv("G_GETENV")
os.environ.setdefault("H_DEFAULT", "1")
I = "I_IN" in os.environ
J = environ.get("J_BARE")
K = env_int(f"K_{E}", 1)
os.environ.get("UNRELATED".lower())
"""
    names, dynamic = env_reads(source, where="sample.py")
    assert names == {"A_STR", "B_BOOL", "C_INT", "D_LIST", "E_GET", "F_ITEM", "G_GETENV", "H_DEFAULT", "I_IN", "J_BARE"}
    assert sorted(dynamic) == ["sample.py:15", "sample.py:16"]


def test_the_helpers_themselves_are_not_dynamic_reads() -> None:
    names, dynamic = env_reads(HELPERS_MODULE.read_text(), where="config/env.py", helpers_module=True)
    assert dynamic == [] and names == set()
    _, dynamic = env_reads(HELPERS_MODULE.read_text(), where="config/env.py")
    assert len(dynamic) == 4  # elsewhere, a helper-shaped function would not be exempt


def test_the_table_parser_reads_the_first_column_only() -> None:
    markdown = """# Title
## Environment
| variable | meaning |
|---|---|
| `ONE`, `TWO` | mentions `NOT_THIS` and `lowercase` |
| `THREE` (`3`) | x |

text after
| `OUTSIDE` | not in the table |
## Next
"""
    assert documented(markdown) == {"ONE", "TWO", "THREE"}
