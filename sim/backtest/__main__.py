"""`python -m sim.backtest`: see sim/backtest/cli.py."""

import sys

from sim.backtest.cli import main

sys.exit(main())
