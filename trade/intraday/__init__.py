"""The day trader: `IntradayTrader` (an orchestrator) and the small parts it coordinates —
bar feed, fill recorder, reconcile planning, flatten, ledger, health keeper, run log — plus
`day_session`, one trading day from connect to run log."""
