"""The shared packages stand on their own: only the bot imports the bot."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import repo_root

SHARED_PACKAGES = ("digitbot", "reading", "worker", "training", "web")
# The CLI starts every process, the bot included.
MAY_IMPORT_BOT = {Path("digitbot/cli.py")}


def imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_the_scan_finds_imports_made_inside_functions() -> None:
    # digitbot.cli imports the bot lazily, inside the `bot` command.
    assert "bot.app" in set(imported_modules(repo_root() / "digitbot" / "cli.py"))


def test_shared_packages_never_import_the_bot() -> None:
    root = repo_root()
    offenders = [
        f"{path.relative_to(root)}: {module}"
        for package in SHARED_PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        if path.relative_to(root) not in MAY_IMPORT_BOT
        for module in imported_modules(path)
        if module == "bot" or module.startswith("bot.")
    ]
    assert offenders == []
