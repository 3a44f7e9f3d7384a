"""The architecture, enforced: the import contracts in pyproject.toml ([tool.importlinter]: commands
reach providers only through the wiring, core depends on its ports and never on a provider or a cloud
SDK, the product never imports the stand-in) and small functions in core/ and commands/."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80


def test_import_contracts_hold() -> None:
    script = Path(sys.executable).parent / "lint-imports"
    if not script.exists():
        pytest.fail("import-linter is not installed: install the dev extra (pip install -e '.[dev]')")
    done = subprocess.run(
        [str(script), "--config", str(REPO / "pyproject.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def long_functions(root: Path, limit: int, base: Path = REPO) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > limit:
                    found.append(f"{path.relative_to(base)}:{node.lineno} {node.name} ({length} lines)")
    return found


@pytest.mark.parametrize("layer", ["core", "commands"])
def test_no_function_over_80_lines(layer: str) -> None:
    too_long = long_functions(REPO / "genaiops_cli" / layer, MAX_FUNCTION_LINES)
    assert not too_long, "split these (the limit is 80 lines):\n" + "\n".join(too_long)


def test_the_length_check_sees_a_long_function(tmp_path: Path) -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(81))
    (tmp_path / "m.py").write_text(f"def f():\n{body}\n\n\ndef g():\n    return 1\n")
    assert long_functions(tmp_path, MAX_FUNCTION_LINES, tmp_path) == ["m.py:1 f (82 lines)"]
