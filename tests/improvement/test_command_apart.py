"""The nightly cycle's command only wires: the library (improvement/cycle.py, after_close.py,
nightly.py, ...) never imports improvement/cli.py, which imported `cycle` while `cycle` imported
it back (issue 19 item 5). `python -m improvement.cycle` runs the command without importing it."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.paths import REPO


def _imports(path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_no_library_module_imports_the_command() -> None:
    importers = sorted(path.name for path in (REPO / "improvement").glob("*.py")
                       if path.name != "__main__.py" and "improvement.cli" in _imports(path))
    assert importers == []


def test_both_names_of_the_command_run_it(tmp_path) -> None:
    """`python -m improvement.cycle --date ...` is the documented command (issue 11); the
    package's `python -m improvement` is the same command."""
    for module in ("improvement.cycle", "improvement"):
        result = subprocess.run([sys.executable, "-m", module, "--help"], cwd=tmp_path,
                                env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "--date" in result.stdout and "improvement" in result.stdout
