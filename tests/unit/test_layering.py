"""The architecture's one rule, checked: imports point inward only.

adapters -> bot -> deliberation; the engine imports no platform, no shell, no gettext.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deliberation.phases import mermaid

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN = {
    "deliberation": {
        "bot",
        "adapters",
        "telegram",
        "nio",
        "aiohttp",
        "babel",
        "gettext",
        "apscheduler",
    },
    "bot": {"adapters"},
}
# The composition root is the one place in bot/ that knows the concrete adapters.
ALLOWED = {("bot", "app.py", "adapters")}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_inward(package: str) -> None:
    offences = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for root in imported_roots(path) & FORBIDDEN[package]:
            if (package, path.name, root) not in ALLOWED:
                offences.append(f"{path.relative_to(ROOT)} imports {root}")
    assert offences == []


def test_phase_diagram_in_docs_matches_the_table() -> None:
    assert mermaid() in (ROOT / "docs" / "phases.md").read_text()
