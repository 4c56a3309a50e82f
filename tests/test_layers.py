"""The package layers hold in the code: import-linter's contracts, and no private reach-ins.

``make lint`` runs ``lint-imports`` (the contracts in ``pyproject.toml``: the CLI, then
``serving | training``, then ``models``, then ``features``; MLflow, FastAPI and Spark where
they belong). This test runs the same contracts, and checks what import-linter cannot
express: a private module (``_name``) is imported only from inside the package that owns it.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("changewatch", "features", "models", "serving", "training")


def _imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
    return found


def private_reach_ins(root: Path = ROOT) -> list[str]:
    """``file:line module`` for every import of a private module from outside its owner."""
    bad: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            importer = ".".join(path.relative_to(root).with_suffix("").parts)
            for line, module in _imports(path):
                parts = module.split(".")
                if parts[0] not in PACKAGES:
                    continue
                private = next((i for i, part in enumerate(parts) if part.startswith("_")), None)
                if private is None:
                    continue
                owner = ".".join(parts[:private])
                if importer != owner and not importer.startswith(owner + "."):
                    bad.append(f"{path.relative_to(root)}:{line} {module}")
    return bad


def test_no_package_imports_another_packages_private_modules() -> None:
    assert private_reach_ins() == []


def test_the_check_sees_a_reach_in(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
    (tmp_path / "serving" / "x.py").write_text("from models.scoring._rules import RULES\n")
    (tmp_path / "models" / "y.py").write_text("from models._forest import CompiledForest\n")
    assert private_reach_ins(tmp_path) == ["serving/x.py:1 models.scoring._rules"]


@pytest.mark.skipif(
    shutil.which("lint-imports", path=str(Path(sys.executable).parent)) is None,
    reason="import-linter is a dev dependency",
)
def test_the_import_linter_contracts_are_kept() -> None:
    tool = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(tool)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout
