"""One meaning per class name (issue 19 item 5): a name defined in two modules of the source
tree makes a reader (and a grep) confuse two things, e.g. the trade layer's `Account` model and
the weekly backtest's simulated account. Private names (`_X`) are local to their module and may
repeat; public ones may not."""

from __future__ import annotations

import ast
from collections import defaultdict

from tests.paths import REPO

PACKAGES = ("observability", "evaluation", "trade", "sim", "improvement", "ui")


def test_every_public_class_name_is_defined_once() -> None:
    where: dict[str, list[str]] = defaultdict(list)
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    where[node.name].append(str(path.relative_to(REPO)))
    twice = {name: files for name, files in where.items() if len(files) > 1}
    assert not twice, f"rename one of each (a name in trading terms that says what it is): {twice}"
