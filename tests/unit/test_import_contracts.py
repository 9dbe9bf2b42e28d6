"""The import contracts of ``pyproject.toml`` bite (ADR 0022): on a copy of ``src/``, the tree as it is
passes ``lint-imports``, and each kind of upward import planted in it fails, naming the broken contract and
the planted line. ``make lint`` runs the same command over the same configuration."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "Layers: faces > earn paths > catalog > wallet > risk/outbox > ledger/auth/idempotency > base"
FACES = "Domains never import faces"
BASE = "Base imports no domain (and no face)"
RUN_TIMEOUT_S = 120


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package and of the configuration holding the contracts."""
    shutil.copytree(
        ROOT / "src" / "earnloop", tmp_path / "src" / "earnloop", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the project's contracts over the copy (found first on the path)."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "COLUMNS": "200"}  # one line per contract
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tree / "pyproject.toml")],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / "src" / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as file:
        file.write(f"\n{line}  # planted\n")


def test_the_tree_as_it_is_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in (LAYERS, FACES, BASE):
        assert f"{name} KEPT" in result.stdout
    assert "Contracts: 3 kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken", "reported"),
    [
        # a lower floor imports a higher one: the ledger reaching into the wallet
        (
            "earnloop.ledger.service",
            "import earnloop.wallet.service",
            [LAYERS],
            "earnloop.ledger.service -> earnloop.wallet.service",
        ),
        # a domain imports a face
        (
            "earnloop.wallet.service",
            "import earnloop.api.problems",
            [LAYERS, FACES],
            "earnloop.wallet.service -> earnloop.api.problems",
        ),
        # a base module imports a domain
        (
            "earnloop.db.engine",
            "from earnloop.ledger import models",
            [LAYERS, BASE],
            "earnloop.db.engine -> earnloop.ledger.models",
        ),
        # the catalog calls up into an earn path
        (
            "earnloop.catalog.pricing",
            "from earnloop.tracking import service",
            [LAYERS],
            "earnloop.catalog.pricing -> earnloop.tracking.service",
        ),
    ],
)
def test_an_upward_import_breaks_its_contract(
    tree: Path, module: str, line: str, broken: list[str], reported: str
) -> None:
    plant(tree, module, line)
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout
    for name in (LAYERS, FACES, BASE):
        assert f"{name} {'BROKEN' if name in broken else 'KEPT'}" in result.stdout
    assert f"Contracts: {3 - len(broken)} kept, {len(broken)} broken." in result.stdout
    assert reported in result.stdout


def test_a_new_top_level_package_must_be_given_a_floor(tree: Path) -> None:
    """The layers contract is exhaustive: a new domain (``loyalty``) lands only once it is placed."""
    plant(tree, "earnloop.loyalty", '"""Loyalty tiers."""')
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout
    assert f"{LAYERS} BROKEN" in result.stdout
    assert "not listed as layers:\n\n- earnloop.loyalty\n" in result.stdout
