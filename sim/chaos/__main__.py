"""`python -m sim.chaos`: see sim/chaos/campaign.py."""

import sys

from sim.chaos.campaign import main

sys.exit(main())
