"""The fast engine's compiled day: the event engine's decisions over arrays, minute by minute.

One call trades one session of the kept symbols for one parameter set. Each minute boundary k
(time = open + k minutes, k = 1 .. flatten) runs the phases in the order the event engine runs
them (sim/backtest/event_engine.py; every rule cites the Python it reproduces):

1. **Match** (`MatchingEngine.advance`): for each held symbol, in alphabetical order (the
   engine's `sorted(active_by_symbol)`), the take-profit LMT and the STP of its OCA group along
   the intra-bar path over (k-1, k]: first the whole bar k-1 (segment: its open, low, high; the
   stop is matched before the limit, so the stop wins a bar that reaches both), then the
   zero-length segment at bar k's open. A stop fills at min(first, stop) slipped and rounded
   against the client, a limit at max(first, limit) within the limit; the execution time is the
   segment start when the fill is at its first price (a gap), else its end.
2. **Bars** (`PaperBroker._deliver_bars` -> `BarFeed.on_bar` -> `IntradayTrader._process_bar`):
   in subscription order, every symbol with a bar ending at k that does not follow a gap folds
   it into its indicators; a flat symbol is judged by `strategy.entry_verdict` and, on ENTER,
   by `RiskManager.standard` (daily loss cap, max open positions, cooldown, sizing, buying
   power, exposure cap); an allowed entry fills at once at the path's price at k, slipped, and
   its exits are placed at the fill x (1 +/- pct) rounded to the tick (`ExitKeeper.entry_done`).
3. **Flatten** (k = flatten): every held symbol, alphabetically, sells at the price at k.
4. **Account** (the trader's health check, every minute): net liquidation = cash + held shares
   at the price at k (in the order the engine's ledger holds them), buying power = 4 x net
   liquidation - gross position value.
5. **Backfilled bars**: bars that follow a gap, decided like 2 but after the refresh (the
   trader's gap backfill is a job that runs after its loop's health check).

Times are seconds from the session open; prices, fees and P&L are the engine's floats.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.backtest.fast.prices import commission, round_to_tick, slipped, to_tick, whole_shares

TARGET, STOP, FLATTEN = 0, 1, 2  # exit reasons (ledger: TP -> target, SL -> stop, FLAT -> flatten)
LEVERAGE = 4.0
UNSUPPORTED = -1  # trade_session's return when the day leaves the modelled domain  # MatchingEngine's default Reg T intraday leverage
# rules columns
RULE_TARGET, RULE_STOP, RULE_RSI_MAX, RULE_ATR_MIN, RULE_DAILY, RULE_DAILY_ATR, RULE_PCT, \
    RULE_COOLDOWN = range(8)
# out_f columns
ENTRY_S, ENTRY_PX, EXIT_S, EXIT_PX, COMMISSION, GROSS = range(6)
# out_i columns
SYMBOL, QTY, REASON = range(3)


@njit(cache=True)
def trade_session(
    has_bar: np.ndarray, gap: np.ndarray, opens: np.ndarray, highs: np.ndarray,
    lows: np.ndarray, closes: np.ndarray, prev_close: np.ndarray, alpha_order: np.ndarray,
    vwap: np.ndarray, rsi: np.ndarray, atr: np.ndarray, rules: np.ndarray, flatten: int,
    cutoff: int, allocation: float, equity: float, daily_loss_pct: float, max_open: int,
    slippage_bps: float, refresh_account: bool, out_i: np.ndarray, out_f: np.ndarray,
) -> int:
    """Trade one session; the closed round trips go to out_i/out_f in closing order.

    `vwap`, `rsi`, `atr` [n, M]: the indicators after each bar (`indicators.session_values`:
    the incremental update the trader runs as each bar arrives; they do not depend on the
    trading parameters, so they are computed once per indicator periods). `rules` [n, 8]: the
    RULE_* columns per symbol; NaN means "not set" for position_pct, daily_atr and
    daily_loss_pct, 0 for max_open and cooldown. Returns the number of round trips, or
    UNSUPPORTED (the symbol and time in out_i[0], out_f[0]) when an entry's exits would be
    marketable at its fill (a stop or target inside the slippage and the tick: never with the
    tuning bounds' 0.5% stop; the event engine handles it, this kernel refuses rather than guess).
    """
    n = has_bar.shape[0]
    qty = np.zeros(n, dtype=np.int64)
    avg_cost = np.zeros(n)  # the trader's book: fill price (no commission)
    entry_px = np.zeros(n)
    entry_s = np.zeros(n)
    entry_fee = np.zeros(n)
    take_profit = np.zeros(n)
    stop = np.zeros(n)
    last_exit = np.full(n, np.nan)
    last_close = prev_close.copy()
    held_order = np.empty(n, dtype=np.int64)  # the engine ledger's positions, insertion order
    held_count = 0
    cash = equity
    realized = 0.0
    net_liq = equity  # the account the risk rules see (refreshed at the health checks)
    buying_power = LEVERAGE * equity
    trades = 0
    for k in range(1, flatten + 1):
        now = 60.0 * k
        b = k - 1
        for i in range(n):
            if has_bar[i, b]:
                last_close[i] = closes[i, b]
        # 1. match the exits
        for j in range(n):
            i = alpha_order[j]
            if qty[i] <= 0:
                continue
            px = -1.0
            at = 0.0
            removes = True
            reason = STOP
            if has_bar[i, b]:
                first = opens[i, b]
                if lows[i, b] <= stop[i]:
                    trigger = stop[i] if stop[i] < first else first
                    px = slipped(trigger, False, slippage_bps)
                    at = 60.0 * b if trigger == first else 60.0 * b + 60.0
                elif highs[i, b] >= take_profit[i]:
                    price = take_profit[i] if take_profit[i] > first else first
                    worse = to_tick(price, -1)
                    px = take_profit[i] if take_profit[i] > worse else worse
                    at = 60.0 * b if price == first else 60.0 * b + 60.0
                    removes = price == first
                    reason = TARGET
            if px < 0.0 and k < has_bar.shape[1] and has_bar[i, k]:
                first = opens[i, k]
                if first <= stop[i]:
                    px = slipped(first, False, slippage_bps)
                    at = now
                elif first >= take_profit[i]:
                    worse = to_tick(first, -1)
                    px = take_profit[i] if take_profit[i] > worse else worse
                    at = now
                    reason = TARGET
            if px < 0.0:
                continue
            fee = commission(float(qty[i]), px, True, removes)
            cash -= -float(qty[i]) * px + fee
            gross = qty[i] * px - qty[i] * entry_px[i]
            trip_fee = entry_fee[i] + fee
            realized += gross - trip_fee
            _record(out_i, out_f, trades, i, qty[i], entry_s[i], entry_px[i], at, px, trip_fee,
                    gross, reason)
            trades += 1
            last_exit[i] = at
            qty[i] = 0
            avg_cost[i] = 0.0
            held_count = _drop(held_order, held_count, i)
        # 2. this minute's bars, then 5. the backfilled ones after 4. the account refresh
        for phase in range(2):
            if phase == 1:
                if k == flatten:
                    break
                if refresh_account:
                    market = 0.0
                    gross_value = 0.0
                    for h in range(held_count):
                        i = held_order[h]
                        mark = opens[i, k] if has_bar[i, k] else last_close[i]
                        value = float(qty[i]) * mark
                        market += value
                        gross_value += abs(value)
                    net_liq = cash + market
                    buying_power = LEVERAGE * net_liq - gross_value
                    if not buying_power > 0.0:
                        buying_power = 0.0
            if k >= cutoff:
                continue  # after the entry cut-off the bars only move the indicators
            for i in range(n):
                if not has_bar[i, b] or gap[i, b] != (phase == 1) or qty[i] != 0:
                    continue
                price = closes[i, b]
                if not _rules_enter(price, vwap[i, b], rsi[i, b], atr[i, b],
                                    rules[i, RULE_DAILY] != 0.0, rules[i, RULE_DAILY_ATR],
                                    rules[i, RULE_RSI_MAX], rules[i, RULE_ATR_MIN]):
                    continue
                # EntryDesk.entry_request: the book at the path's price now
                exposure = 0.0
                unrealized = 0.0
                held = 0
                for j in range(n):
                    if qty[j] > 0:
                        last = opens[j, k] if has_bar[j, k] else last_close[j]
                        exposure += qty[j] * last
                        unrealized += (last - avg_cost[j]) * qty[j]
                        held += 1
                shares = _risk_shares(now, price, realized + unrealized, exposure, held,
                                      last_exit[i], rules[i, RULE_COOLDOWN], rules[i, RULE_PCT],
                                      n, equity, daily_loss_pct, max_open, allocation, net_liq,
                                      buying_power)
                if shares <= 0:
                    continue
                mark = opens[i, k] if has_bar[i, k] else last_close[i]
                px = slipped(mark, True, slippage_bps)
                fee = commission(float(shares), px, False, True)
                cash -= float(shares) * px + fee
                qty[i] = shares
                avg_cost[i] = (0.0 + px * shares) / shares
                entry_px[i] = px
                entry_s[i] = now
                entry_fee[i] = fee
                take_profit[i] = round_to_tick(px * (1.0 + rules[i, RULE_TARGET]))
                stop[i] = round_to_tick(px * (1.0 - rules[i, RULE_STOP]))
                if stop[i] >= mark or take_profit[i] <= mark:
                    # exits marketable the moment they are moved to the fill: the engine fills
                    # them inside the repricing job, an order the kernel does not model
                    out_i[0, SYMBOL] = i
                    out_f[0, ENTRY_S] = now
                    return UNSUPPORTED
                held_order[held_count] = i
                held_count += 1
        # 3. the flatten
        if k == flatten:
            for j in range(n):
                i = alpha_order[j]
                if qty[i] <= 0:
                    continue
                mark = opens[i, k] if has_bar[i, k] else last_close[i]
                px = slipped(mark, False, slippage_bps)
                fee = commission(float(qty[i]), px, True, True)
                cash -= -float(qty[i]) * px + fee
                gross = qty[i] * px - qty[i] * entry_px[i]
                trip_fee = entry_fee[i] + fee
                realized += gross - trip_fee
                _record(out_i, out_f, trades, i, qty[i], entry_s[i], entry_px[i], now, px,
                        trip_fee, gross, FLATTEN)
                trades += 1
                qty[i] = 0
    return trades


@njit(cache=True)
def _rules_enter(price: float, vwap: float, rsi: float, atr: float, use_daily: bool,
                 daily_atr: float, rsi_max: float, atr_min: float) -> bool:
    """`strategy.entry_verdict` is ENTER (the cut-off is checked by the caller)."""
    if vwap != vwap or rsi != rsi or not price > 0.0:
        return False
    if use_daily:
        volatility = daily_atr
    else:
        volatility = atr / price
        if volatility != volatility:
            return False
    if not price > vwap:
        return False
    if not rsi < rsi_max:
        return False
    return volatility > atr_min


@njit(cache=True)
def _risk_shares(now: float, price: float, day_pnl: float, exposure: float, held: int,
                 last_exit: float, cooldown: float, pct: float, n_symbols: int, equity: float,
                 daily_loss_pct: float, max_open: int, allocation: float, net_liq: float,
                 buying_power: float) -> int:
    """`RiskManager.check_entry` on `EntryDesk.entry_request`'s figures: shares allowed (0: no).
    Gates first (daily loss cap, max open positions, cooldown), then the share limits (sizing,
    buying power, exposure cap), the smallest wins."""
    # `DailyLossCap`: the floor is a fraction of the bot's own capital (equity x allocation)
    if daily_loss_pct == daily_loss_pct and day_pnl < -daily_loss_pct * (equity * allocation):
        return 0
    if max_open > 0 and held >= max_open:
        return 0
    if cooldown > 0.0 and last_exit == last_exit and now < last_exit + cooldown:
        return 0
    if pct == pct:
        capital = net_liq * pct
    else:
        capital = net_liq * allocation / n_symbols
    shares = whole_shares(capital, price)
    if shares == 0:
        return 0
    limit = whole_shares(buying_power, price)
    if limit == 0:
        return 0
    if limit < shares:
        shares = limit
    limit = whole_shares(net_liq * allocation - exposure, price)
    if limit == 0:
        return 0
    return limit if limit < shares else shares


@njit(cache=True)
def _record(out_i: np.ndarray, out_f: np.ndarray, t: int, i: int, qty: int, entry_at: float,
            entry_price: float, exit_at: float, exit_price: float, fee: float, gross: float,
            reason: int) -> None:
    out_i[t, SYMBOL] = i
    out_i[t, QTY] = qty
    out_i[t, REASON] = reason
    out_f[t, ENTRY_S] = entry_at
    out_f[t, ENTRY_PX] = entry_price
    out_f[t, EXIT_S] = exit_at
    out_f[t, EXIT_PX] = exit_price
    out_f[t, COMMISSION] = fee
    out_f[t, GROSS] = gross


@njit(cache=True)
def _drop(order: np.ndarray, count: int, i: int) -> int:
    """Remove symbol i from the engine ledger's insertion-ordered positions."""
    w = 0
    for r in range(count):
        if order[r] != i:
            order[w] = order[r]
            w += 1
    return w
