"""`python -m improvement --date YYYY-MM-DD`: the nightly improvement cycle by hand (improvement/cli.py)."""

import sys

from improvement.cli import main

sys.exit(main())
