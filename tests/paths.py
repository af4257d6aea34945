"""Where tests find the checkout and the shared market data (one definition for every test).

The shared data is required, never optional: `.ci/run` refuses to start without it, and a test
that silently skipped when it is missing would hide a broken checkout. `tests/conftest.py` sets
`MARKET_DATA_DIR` to it (unless the environment already names one), as a user's `.env` would, so
a command run by a test without `--data` reads the real bars.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "data").resolve()
