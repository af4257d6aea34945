"""`python -m sim.backtest.weekly`: see sim/backtest/weekly/cli.py."""

import sys

from sim.backtest.weekly.cli import main

sys.exit(main())
