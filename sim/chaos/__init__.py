"""Money safety as a property: a randomized fault campaign (campaign.py) of chaos sessions
(session.py: the real day_trader.py against the Gateway simulator) on seeded fault schedules
(schedule.py), judged by an invariant checker that reads only the simulator's ground truth and
the bot's DB (invariants.py)."""
