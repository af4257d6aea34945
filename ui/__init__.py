"""What a person looks at: the daily report, the backtest tearsheet and the live status page.

Everything here reads what the bots already record (the history DB, the run log, the improvement
and backtest JSON) or asks the running trader through `ui.status.controls.TraderControls`; nothing
in `ui/` decides a trade. The reports are static HTML files that open offline; the status page is
served from the bot's own event loop.
"""
