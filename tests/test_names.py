"""No two public classes or functions of the project share a name, so an import says which one."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "pipeline", "infra", "local_stack", "bench")
# Names a caller looks up by convention, never imports by name: Lambda handlers, a command's
# entry point, a bench's run, Bolt listeners' register, a patch's install/uninstall.
ENTRY_POINTS = frozenset({"handler", "main", "run", "register", "install", "uninstall"})


def test_no_two_public_classes_or_functions_share_a_name() -> None:
    defined: dict[str, list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((REPOSITORY / package).rglob("*.py")):
            for node in ast.parse(path.read_text(encoding="utf-8")).body:
                if _is_public_definition(node):
                    defined[node.name].append(str(path.relative_to(REPOSITORY)))
    assert {name: paths for name, paths in defined.items() if len(paths) > 1} == {}


def _is_public_definition(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
        and node.name not in ENTRY_POINTS
    )
