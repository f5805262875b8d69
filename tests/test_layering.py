"""Imports flow one way (style guide): engram imports neither FastAPI nor temporalio; workflows import
only activity contracts; activities never import the API."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FORBIDDEN = {
    "engram": ("fastapi", "temporalio", "api", "workflows", "activities", "starlette", "uvicorn"),
    "workflows": ("api", "engram.store", "sqlalchemy", "fastapi", "httpx", "openai", "anthropic"),
    "activities": ("api", "fastapi"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_imports_flow_one_way() -> None:
    wrong: list[str] = []
    for package, banned in FORBIDDEN.items():
        for path in (ROOT / package).rglob("*.py"):
            if package == "engram" and "engram/cli" in path.as_posix():
                continue  # the CLI starts the whole stack; it may launch api/worker processes
            for name in _imports(path):
                if any(name == b or name.startswith(b + ".") for b in banned):
                    wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)
