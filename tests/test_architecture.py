"""The house as docs/architecture.md draws it: dependencies point downward, IB stays in trade/ib/.

Rules, checked by reading every module's imports (no import is executed):
- layers: observability < evaluation < trade < sim < improvement < ui; a module never imports a
  package of a higher layer (entry scripts, tests and benchmarks may import anything);
- only `trade/ib/` imports an IB client library (ib_async, ib_insync, ibapi), and the simulator's
  conformance walk (`sim/conformance/`), which is itself a client of the Gateway like a user's script;
- `trade.ib` itself is wired in by the entry scripts only: the core (strategy, risk, intraday,
  portfolio), the simulator and everything else talk to the `trade.broker.Broker` port;
- nothing imports the entry scripts.
The self-tests at the bottom plant each kind of violation in a scratch tree, so a checker that
stopped seeing imports would fail here instead of passing silently.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.paths import REPO

LAYERS = {"observability": 0, "evaluation": 1, "trade": 2, "sim": 3, "improvement": 4, "ui": 5}
IB_CLIENTS = ("ib_async", "ib_insync", "ibapi")
IB_CLIENT_HOMES = (("trade", "ib"), ("sim", "conformance"))
ENTRY_SCRIPTS = ("day_trader", "main")


def _imports(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module
            # `from trade import ib` imports the package trade.ib
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def violations(root: Path) -> list[str]:
    """Every broken rule under `root`, one line per file and rule (`path: imports module (rule)`)."""
    found: dict[tuple[Path, str], str] = {}
    for package, rank in LAYERS.items():
        for path in sorted((root / package).rglob("*.py")):
            where = path.relative_to(root)
            in_ib_adapter = where.parts[:2] == ("trade", "ib")
            ib_client_home = where.parts[:2] in IB_CLIENT_HOMES
            for module in _imports(path):
                top = module.split(".")[0]
                broken = []
                if LAYERS.get(top, -1) > rank:
                    broken.append(f"upward: {package} is below {top}")
                if top in IB_CLIENTS and not ib_client_home:
                    broken.append("IB client library outside trade/ib/")
                if (module == "trade.ib" or module.startswith("trade.ib.")) and not in_ib_adapter:
                    broken.append("only entry scripts wire trade.ib")
                if top in ENTRY_SCRIPTS:
                    broken.append("entry scripts are never imported")
                for rule in broken:
                    found.setdefault((where, rule), f"{where}: imports {module} ({rule})")
    return sorted(found.values())


def test_the_project_follows_the_design() -> None:
    assert violations(REPO) == []


def _plant(root: Path, relative: str, source: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")


def test_an_upward_import_is_reported(tmp_path: Path) -> None:
    _plant(tmp_path, "trade/intraday/trader.py", "from sim.engine.exchange import MatchingEngine\n")
    _plant(tmp_path, "observability/history.py", "import evaluation.health\n")
    assert violations(tmp_path) == [
        "observability/history.py: imports evaluation.health (upward: observability is below evaluation)",
        "trade/intraday/trader.py: imports sim.engine.exchange (upward: trade is below sim)",
    ]


def test_ib_client_libraries_belong_to_trade_ib(tmp_path: Path) -> None:
    _plant(tmp_path, "trade/ib/broker.py", "from ib_async import IB\n")
    _plant(tmp_path, "trade/risk.py", "import ib_async\n")
    _plant(tmp_path, "sim/tws/session.py", "from ibapi.client import EClient\n")
    _plant(tmp_path, "sim/conformance/walker.py", "from ib_async import IB\n")  # the walk is a client
    assert violations(tmp_path) == [
        "sim/tws/session.py: imports ibapi.client (IB client library outside trade/ib/)",
        "trade/risk.py: imports ib_async (IB client library outside trade/ib/)",
    ]


def test_only_entry_scripts_wire_the_ib_adapter(tmp_path: Path) -> None:
    _plant(tmp_path, "trade/intraday/day_session.py", "from trade.ib.broker import IBBroker\n")
    _plant(tmp_path, "trade/portfolio/cycle.py", "from trade import ib\n")
    _plant(tmp_path, "trade/ib/session.py", "from trade.ib.connection import IBConnection\n")
    assert violations(tmp_path) == [
        "trade/intraday/day_session.py: imports trade.ib.broker (only entry scripts wire trade.ib)",
        "trade/portfolio/cycle.py: imports trade.ib (only entry scripts wire trade.ib)",
    ]


def test_entry_scripts_are_never_imported(tmp_path: Path) -> None:
    _plant(tmp_path, "ui/status.py", "from day_trader import build_parser\n")
    assert violations(tmp_path) == [
        "ui/status.py: imports day_trader (entry scripts are never imported)",
    ]
