"""Size limits of the source tree, checked by `make lint` (issue 14).

Owns the rule "no function over 70 lines, no module over 500 lines" for `src/` outside the
Alembic migrations. A function's length runs from its `def` line to its last line (decorators
excluded; a nested function counts in its parent too); a module's length is its number of lines.
Prints one line per violation (`path:line: function NAME is N lines (max 70)`) and exits 1 if any.

Usage: python scripts/check_sizes.py [ROOT ...] [--exclude DIR ...]   (ROOT defaults to src)
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

FUNCTION_LINES_MAX = 70
MODULE_LINES_MAX = 500
ALWAYS_EXCLUDED = ("src/earnloop/db/migrations",)


def _is_under(path: Path, folders: list[Path]) -> bool:
    resolved = path.resolve()
    return any(resolved == folder or folder in resolved.parents for folder in folders)


def python_files(roots: list[Path], excluded: list[Path]) -> Iterator[Path]:
    """Every `.py` file under the roots (or a root that is a file), skipping excluded folders."""
    folders = [folder.resolve() for folder in excluded]
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in candidates:
            if not _is_under(path, folders):
                yield path


def violations(path: Path) -> Iterator[str]:
    """The size violations of one module, one message per violation."""
    source = path.read_text(encoding="utf-8")
    module_lines = len(source.splitlines())
    if module_lines > MODULE_LINES_MAX:
        yield f"{path}:1: module is {module_lines} lines (max {MODULE_LINES_MAX})"
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end_lineno = node.end_lineno if node.end_lineno is not None else node.lineno
            function_lines = end_lineno - node.lineno + 1
            if function_lines > FUNCTION_LINES_MAX:
                yield (
                    f"{path}:{node.lineno}: function {node.name} is {function_lines} lines "
                    f"(max {FUNCTION_LINES_MAX})"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path, default=[Path("src")])
    parser.add_argument("--exclude", action="append", type=Path, default=[], metavar="DIR")
    args = parser.parse_args(argv)
    excluded = [*args.exclude, *(Path(folder) for folder in ALWAYS_EXCLUDED)]
    found = [line for path in python_files(args.roots, excluded) for line in violations(path)]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
