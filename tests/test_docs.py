"""The map in docs/ matches the tree: every repository path docs/architecture.md and
docs/conventions.md name exists (a page that drifted from the code fails here)."""

from __future__ import annotations

import re

from tests.paths import REPO

PAGES = ("docs/architecture.md", "docs/conventions.md")
# a path is a run of name parts with a slash or a .py/.md/.js ending, in backquotes or bare
_PATH = re.compile(r"(?<![\w./-])((?:[A-Za-z_][\w-]*/)+[\w.-]*|[A-Za-z_][\w-]*\.(?:py|md|js))(?![\w/-])")


ROOTS = ("trade", "sim", "observability", "evaluation", "improvement", "ui", "tests", "docs",
         "benchmarks")


def named_paths(text: str) -> set[str]:
    """Paths under the repository's folders, and bare module or page names (`lots.py`)."""
    found = set()
    for match in _PATH.finditer(text):
        path = match.group(1).rstrip(".,:;)")
        if "/" in path and path.split("/")[0] not in ROOTS:
            continue  # America/New_York, SIGINT/SIGTERM: words, not paths
        found.add(path)
    return found


def resolves(path: str) -> bool:
    """A full path from the repository root, or a bare file name found somewhere in it."""
    if (REPO / path).exists():
        return True
    if "/" not in path.rstrip("/"):
        return any(p for p in REPO.rglob(path) if ".venv" not in p.parts)
    # a path relative to a folder the page just named (e.g. "fast/" under sim/backtest/)
    return any(p for p in REPO.rglob(path.rstrip("/")) if ".venv" not in p.parts)


def test_every_path_the_map_names_exists():
    missing = {}
    for page in PAGES:
        text = (REPO / page).read_text(encoding="utf-8")
        gone = sorted(p for p in named_paths(text) if not resolves(p))
        if gone:
            missing[page] = gone
    assert missing == {}


def test_the_checker_sees_a_path_that_does_not_exist():
    assert not resolves("trade/intraday/no_such_module.py")
    assert named_paths("see `sim/market.py` and trade/broker.py") == {"sim/market.py",
                                                                      "trade/broker.py"}
