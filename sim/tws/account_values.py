"""IB account tags from the engine's account values: what reqAccountSummary and
reqAccountUpdates report, honouring the tag list a client asks for.

IB's account summary tags (the `AccountSummaryTags` of the API) are derived here from the
ledger's figures (Reg T style margin, see `sim/engine/ledger.py`); the `$LEDGER` forms return the
per-currency ledger (USD only: the simulator trades US stocks in a USD account).
"""

from __future__ import annotations

from collections.abc import Mapping

SUMMARY_TAGS = (
    "AccountType", "NetLiquidation", "TotalCashValue", "SettledCash", "AccruedCash",
    "BuyingPower", "EquityWithLoanValue", "PreviousEquityWithLoanValue", "GrossPositionValue",
    "RegTEquity", "RegTMargin", "SMA", "InitMarginReq", "MaintMarginReq", "AvailableFunds",
    "ExcessLiquidity", "Cushion", "FullInitMarginReq", "FullMaintMarginReq", "FullAvailableFunds",
    "FullExcessLiquidity", "LookAheadNextChange", "LookAheadInitMarginReq",
    "LookAheadMaintMarginReq", "LookAheadAvailableFunds", "LookAheadExcessLiquidity",
    "HighestSeverity", "DayTradesRemaining", "Leverage",
)
LEDGER_TAGS = (
    "CashBalance", "TotalCashBalance", "AccruedCash", "StockMarketValue", "NetLiquidationByCurrency",
    "UnrealizedPnL", "RealizedPnL", "ExchangeRate",
)

Row = tuple[str, str, str]  # tag, value, currency


class AccountTagError(ValueError):
    """A tag list or group a real Gateway would refuse; the message is IB's cause text."""


def _money(v: float) -> str:
    return f"{v:.2f}"


def summary_values(values: Mapping[str, float]) -> dict[str, tuple[str, str]]:
    """Every summary tag -> (value, currency)."""
    net = values["NetLiquidation"]
    gross = values["GrossPositionValue"]
    init, maint = values["InitMarginReq"], values["MaintMarginReq"]
    money = {
        "NetLiquidation": net, "TotalCashValue": values["TotalCashValue"],
        "SettledCash": values["SettledCash"], "AccruedCash": 0.0,
        "BuyingPower": values["BuyingPower"], "EquityWithLoanValue": values["EquityWithLoanValue"],
        "PreviousEquityWithLoanValue": values["EquityWithLoanValue"], "GrossPositionValue": gross,
        "RegTEquity": net, "RegTMargin": gross * 0.5, "SMA": max(0.0, net - gross * 0.5),
        "InitMarginReq": init, "MaintMarginReq": maint, "AvailableFunds": values["AvailableFunds"],
        "ExcessLiquidity": values["ExcessLiquidity"], "FullInitMarginReq": init,
        "FullMaintMarginReq": maint, "FullAvailableFunds": values["AvailableFunds"],
        "FullExcessLiquidity": values["ExcessLiquidity"], "LookAheadInitMarginReq": init,
        "LookAheadMaintMarginReq": maint, "LookAheadAvailableFunds": values["AvailableFunds"],
        "LookAheadExcessLiquidity": values["ExcessLiquidity"],
    }
    out = {tag: (_money(v), "USD") for tag, v in money.items()}
    out["AccountType"] = ("INDIVIDUAL", "")
    out["Cushion"] = (f"{(values['ExcessLiquidity'] / net) if net else 0.0:.6f}", "")
    out["LookAheadNextChange"] = ("0", "")
    out["HighestSeverity"] = ("0", "")
    out["DayTradesRemaining"] = ("-1", "")  # -1: unlimited (no pattern-day-trader restriction)
    out["Leverage"] = (f"{(gross / net) if net else 0.0:.2f}", "")
    return out


def ledger_values(values: Mapping[str, float], currency: str) -> list[Row]:
    cash = values["TotalCashValue"]
    market = values["NetLiquidation"] - cash
    figures = {
        "CashBalance": cash, "TotalCashBalance": cash, "AccruedCash": 0.0,
        "StockMarketValue": market, "NetLiquidationByCurrency": values["NetLiquidation"],
        "UnrealizedPnL": values["UnrealizedPnL"], "RealizedPnL": values["RealizedPnL"],
        "ExchangeRate": 1.0,
    }
    return [(tag, _money(figures[tag]), currency) for tag in LEDGER_TAGS]


def summary_rows(values: Mapping[str, float], tags: str) -> list[Row]:
    """The rows for a reqAccountSummary tag list ("NetLiquidation,BuyingPower", "$LEDGER", ...).

    Unknown tags are skipped, as TWS does; only an empty list is refused.
    """
    wanted = [t.strip() for t in tags.split(",") if t.strip()]
    if not wanted:
        raise AccountTagError("Error validating request.-'bZ' : cause - no account summary tags requested")
    known = summary_values(values)
    rows: list[Row] = []
    for tag in wanted:
        upper = tag.upper()
        if upper == "$LEDGER":
            rows += ledger_values(values, "USD")
        elif upper == "$LEDGER:ALL":
            rows += ledger_values(values, "BASE") + ledger_values(values, "USD")
        elif upper.startswith("$LEDGER:"):
            currency = upper.split(":", 1)[1]
            rows += ledger_values(values, currency) if currency in ("USD", "BASE") else []
        elif tag in known:
            value, currency = known[tag]
            rows.append((tag, value, currency))
    return rows


SIMULATOR_TAG = "SimulatedGateway"  # a key no real Gateway sends: the bots route their records


def update_rows(account: str, values: Mapping[str, float], simulator_id: str = "") -> list[Row]:
    """reqAccountUpdates / reqAccountUpdatesMulti: the account's values, IB's keys, plus one
    key a real Gateway never sends (`SimulatedGateway`, valued `ib-gateway-sim/<simulator id>`),
    so a bot can tell it is trading the simulator however the simulator was started, and which
    one: it keeps those records apart from real ones and from other simulators' (a fresh
    simulator starts flat; trade/records_routing.py)."""
    tag_value = f"ib-gateway-sim/{simulator_id}" if simulator_id else "ib-gateway-sim"
    rows: list[Row] = [("AccountCode", account, ""), ("AccountType", "INDIVIDUAL", ""),
                       ("Currency", "USD", "USD"), (SIMULATOR_TAG, tag_value, "")]
    rows += [(k, _money(v), "USD") for k, v in values.items()]
    rows += [(tag, v, "BASE") for tag, v, _ in ledger_values(values, "BASE")]
    return rows
