"""The lines a person reads when the day ends: the result, and why there was (or was not) an
entry in each symbol.

A quiet day must explain itself: "0 trades" alone reads like a broken bot. The table counts, per
symbol, how many fresh bars each rule blocked (from the run log's `no_entry`), and lists the
symbols the pre-market analyst dropped with their reason.
"""

from __future__ import annotations

from trade.intraday.run_log import RunLog

RULE_NAMES = {
    "HOLD_AFTER_CUTOFF": "after entry cut-off",
    "HOLD_WARMING_UP": "indicators warming up",
    "HOLD_NO_CAPITAL": "no capital",
    "HOLD_BELOW_VWAP": "close <= VWAP",
    "HOLD_RSI_HIGH": "RSI >= max",
    "HOLD_ATR_LOW": "ATR% <= min",
    "held": "already held",
}


def result_line(run_log: RunLog) -> str:
    flat = run_log.flat_at.isoformat() if run_log.flat_at else "NOT CONFIRMED"
    return (f"{run_log.day}: {len(run_log.trades)} trades, realized P&L "
            f"{run_log.realized_pnl:+.2f} (net of commissions), flat at {flat}, "
            f"reconnects {run_log.reconnects}")


def open_lines(run_log: RunLog) -> list[str]:
    """What a run that ended early (a signal, the close before the bot saw itself flat) left
    open: on the console as in the run log, with the exits still working at the broker."""
    held = run_log.extra.get("open_positions") or []
    if not held:
        return []
    lines = [f"left open ({len(held)} position(s); the next start protects and flattens them):"]
    for position in held:
        exits = ", ".join(position.get("exits_at_broker") or []) or "NO EXIT at the broker"
        lines.append(f"  {position['symbol']:<6} {position['qty']:>6} shares | exits: {exits}")
    return lines


def no_entry_table(run_log: RunLog) -> list[str]:
    """Per kept symbol: entries made and the bars each rule blocked; dropped symbols and why."""
    blocked = run_log.extra.get("no_entry", {})
    entries: dict[str, int] = {}
    for trade in run_log.trades:
        entries[trade["symbol"]] = entries.get(trade["symbol"], 0) + 1
    kept = [v["symbol"] for v in run_log.watchlist.get("kept", [])]
    lines = ["why no entry (fresh bars each rule blocked, per symbol):"]
    width = max((len(s) for s in kept), default=6)
    for symbol in kept:
        counts = blocked.get(symbol, {})
        parts = [f"{RULE_NAMES.get(rule, rule.lower().replace('_', ' '))} {n}"
                 for rule, n in sorted(counts.items(), key=lambda kv: -kv[1])]
        lines.append(f"  {symbol:<{width}}  trades {entries.get(symbol, 0):>3} | "
                     + (", ".join(parts) if parts else "no fresh bar reached the rules"))
    for verdict in run_log.watchlist.get("dropped", []):
        lines.append(f"  {verdict['symbol']:<{width}}  not traded: {verdict['reason']}")
    if not kept and not run_log.watchlist.get("dropped"):
        lines.append("  (no symbol)")
    return lines
