"""`python -m improvement` is `python -m improvement.cycle`: the nightly improvement cycle."""

import sys

from improvement.cli import main

sys.exit(main())
