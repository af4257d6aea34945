"""How volatile the synthetic market is: drawn from the real distribution of the shared data.

Why: the day trader's volatility screen keeps a symbol only when its daily ATR(14) is above
1.5% of the previous close, so a synthetic market that is twice as volatile as the real one
keeps every symbol every day and trades far more than any real day would (the old generator
drew a daily sigma uniformly from 1.2-3%: SPY came out at a daily ATR of 2.7%, real SPY's median
over the last decade is 1.00%). Each real ticker now moves as it does in the shared data:

- **its own profile** when the shared data measures it (`PROFILES`): the median, 10th and 90th
  percentile of its daily ATR(14) (Wilder) / close over the last ten years of its daily file
  (2,520 sessions: 2011-2021 for the long files, 2015-2020 for most), or over its contiguous
  2026 intraday sessions when it has no daily file. Medians on the shared data (`python -m
  sim.market.volatility` prints the table): SPY 1.00% (p10 0.65%, p90 1.92%), QQQ 1.24%,
  IWM 1.42%, AAPL 2.05%, NVDA 2.87%, AMD 4.59%, KO 1.21%; from the 2026 sessions SOXL 9.73%,
  SMH 3.07%, META 3.50%. 110 symbols: 94 daily files, 16 intraday-only.
- **a draw from its kind** for any other real ticker of the shipped list (sim/market/tickers.py):
  the whole profile of one measured ticker of the same kind, chosen by the seed. The 99 stocks'
  medians run from 1.21% (KO) to 10.52% (IONQ, 2026), median 2.01%; the 10 ETFs' from 1.00%
  (SPY) to 3.07% (SMH, 2026), median 1.55%; one leveraged ETF (SOXL) is measured.
- a made-up name (`AAA`, the tests' and the calibrations' markets) keeps the generator's old
  draw (uniform 1.2-3% daily sigma, constant), so their seeded markets are unchanged.

Within a symbol the level varies from day to day as volatility does: the log of the day's ATR
level follows an AR(1) (persistence 0.98 a day) around the log median with the spread of the
p10-p90 range, so quiet and hectic weeks alternate and the 1.5% screen passes SPY on some days
and not on others (over 30 seeded years, synthetic SPY: median 1.04%, p10 0.57%, p90 1.66%,
15% of days pass; real SPY's decade: 19%; AAPL 85% synthetic, 88% real). The generators turn an ATR level into a daily
return sigma by `ATR_PER_SIGMA` (their measured ratio: 1.62 for the daily history, 1.64 for the
minute sessions). tests/sim/market/test_volatility.py holds both ends: the table against the
shared data, and the synthetic market's ATR against the table.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sim.market.tickers import kind_of

ATR_PER_SIGMA = 1.63  # the generators' daily ATR(14)/close per unit of daily return sigma
PERSISTENCE = 0.98  # AR(1) coefficient of the log ATR level, per session
Z90 = 1.2816  # the standard normal's 90th percentile
ATR_PERIOD = 14
MIN_CONTIGUOUS = 15  # sessions in a row an intraday-only symbol needs for one ATR(14)
RECENT_SESSIONS = 2520  # a daily file's last ten years (most files hold five: 2015-2020)


@dataclass(frozen=True, slots=True)
class Profile:
    """A symbol's daily ATR(14)/close distribution: median, 10th and 90th percentile."""

    median: float
    p10: float
    p90: float

    @property
    def log_spread(self) -> float:
        """The standard deviation of the log level that puts p10 and p90 where they are."""
        return max(math.log(self.p90 / self.p10) / (2 * Z90), 0.0)


# Measured on the shared data by `python -m sim.market.volatility` (median, p10, p90 of the daily
# ATR(14)/close): daily files over every day they hold; symbols without one over their
# contiguous intraday sessions (the 2026-01/02 sets).
PROFILES: dict[str, Profile] = {
    "AAL": Profile(0.03029, 0.02464, 0.04101),
    "AAPL": Profile(0.02048, 0.01472, 0.03155),
    "ABT": Profile(0.01622, 0.01245, 0.02383),
    "ACN": Profile(0.01475, 0.01133, 0.02115),
    "ADBE": Profile(0.01981, 0.01405, 0.03006),
    "AGN": Profile(0.02426, 0.01361, 0.03511),
    "AIG": Profile(0.02008, 0.01348, 0.03922),
    "AMAT": Profile(0.02584, 0.01899, 0.03736),
    "AMD": Profile(0.04594, 0.03361, 0.06481),
    "AMGN": Profile(0.01934, 0.0146, 0.02892),
    "AMZN": Profile(0.0191, 0.01328, 0.03337),
    "ANTM": Profile(0.02104, 0.01564, 0.02859),
    "ATVI": Profile(0.02563, 0.01829, 0.03827),
    "AVGO": Profile(0.02578, 0.01873, 0.03633),
    "AXP": Profile(0.01548, 0.01186, 0.02328),
    "BA": Profile(0.01916, 0.01347, 0.03106),
    "BAC": Profile(0.02249, 0.01552, 0.04093),
    "BIIB": Profile(0.02534, 0.02009, 0.03636),
    "BMY": Profile(0.01984, 0.0153, 0.02899),
    "BNO": Profile(0.02074, 0.01164, 0.03649),
    "C": Profile(0.01998, 0.01525, 0.02826),
    "CAT": Profile(0.02102, 0.01518, 0.03309),
    "CHTR": Profile(0.02308, 0.01674, 0.03193),
    "CI": Profile(0.02193, 0.01539, 0.03063),
    "COP": Profile(0.02495, 0.01849, 0.0363),
    "COST": Profile(0.01496, 0.01174, 0.02121),
    "CRM": Profile(0.02198, 0.01512, 0.03189),
    "CSCO": Profile(0.01726, 0.01235, 0.02666),
    "CVX": Profile(0.01668, 0.01262, 0.02776),
    "DAL": Profile(0.02416, 0.01913, 0.03298),
    "EA": Profile(0.0244, 0.01808, 0.03573),
    "EBAY": Profile(0.02028, 0.01628, 0.02824),
    "EEM": Profile(0.01441, 0.00933, 0.02134),
    "EOG": Profile(0.02636, 0.0189, 0.03786),
    "F": Profile(0.02003, 0.01508, 0.03014),
    "FB": Profile(0.0261, 0.01543, 0.0416),
    "FCX": Profile(0.04031, 0.0316, 0.07712),
    "FDX": Profile(0.01811, 0.01354, 0.02843),
    "GE": Profile(0.02057, 0.01199, 0.03831),
    "GM": Profile(0.02147, 0.01591, 0.02904),
    "GOOG": Profile(0.01856, 0.01249, 0.02961),
    "GOOGL": Profile(0.01939, 0.01313, 0.03166),
    "GS": Profile(0.01918, 0.01511, 0.02715),
    "HD": Profile(0.01504, 0.01162, 0.02452),
    "HON": Profile(0.01395, 0.01005, 0.02128),
    "IBM": Profile(0.01487, 0.0111, 0.02446),
    "IWM": Profile(0.01418, 0.01049, 0.02477),
    "KO": Profile(0.01206, 0.00867, 0.01643),
    "LRCX": Profile(0.02591, 0.01871, 0.03766),
    "MA": Profile(0.01628, 0.0118, 0.02533),
    "MCD": Profile(0.01332, 0.01011, 0.01856),
    "MDT": Profile(0.0154, 0.01169, 0.02229),
    "MET": Profile(0.0198, 0.01558, 0.02893),
    "MMM": Profile(0.01445, 0.00956, 0.02269),
    "MO": Profile(0.0162, 0.01089, 0.02457),
    "MPC": Profile(0.02822, 0.01916, 0.04116),
    "MS": Profile(0.02181, 0.01661, 0.03158),
    "MSFT": Profile(0.01741, 0.0119, 0.02745),
    "MU": Profile(0.03712, 0.02801, 0.05218),
    "NEE": Profile(0.01477, 0.01163, 0.01931),
    "NFLX": Profile(0.02956, 0.02163, 0.05006),
    "NVDA": Profile(0.02874, 0.0222, 0.04221),
    "ORCL": Profile(0.01616, 0.01174, 0.02321),
    "OXY": Profile(0.02155, 0.01498, 0.03226),
    "PEP": Profile(0.01249, 0.00891, 0.01766),
    "PFE": Profile(0.01504, 0.011, 0.02385),
    "PG": Profile(0.01308, 0.00939, 0.01772),
    "PM": Profile(0.01538, 0.01202, 0.02335),
    "QCOM": Profile(0.02134, 0.0152, 0.03212),
    "QQQ": Profile(0.01244, 0.00876, 0.02373),
    "REGN": Profile(0.0286, 0.02359, 0.03949),
    "SBUX": Profile(0.01642, 0.01282, 0.02269),
    "SCHW": Profile(0.02319, 0.01839, 0.03305),
    "SLB": Profile(0.02216, 0.01644, 0.03376),
    "SPY": Profile(0.00998, 0.00649, 0.01919),
    "T": Profile(0.01467, 0.01143, 0.02045),
    "TGT": Profile(0.02012, 0.01536, 0.02796),
    "TMO": Profile(0.01656, 0.01226, 0.02399),
    "TXN": Profile(0.01882, 0.01367, 0.02871),
    "UNH": Profile(0.01807, 0.0123, 0.02683),
    "UNP": Profile(0.01911, 0.01479, 0.02658),
    "UPS": Profile(0.01497, 0.01069, 0.02289),
    "USB": Profile(0.01526, 0.01233, 0.02193),
    "USO": Profile(0.02318, 0.01464, 0.04062),
    "UTX": Profile(0.01545, 0.01064, 0.02333),
    "V": Profile(0.01584, 0.01091, 0.02401),
    "VLO": Profile(0.025, 0.01769, 0.036),
    "VZ": Profile(0.01454, 0.01182, 0.02012),
    "WBA": Profile(0.02009, 0.01445, 0.02792),
    "WFC": Profile(0.01772, 0.01292, 0.02457),
    "WM": Profile(0.01287, 0.00962, 0.01983),
    "WMT": Profile(0.01451, 0.01174, 0.02115),
    "WYNN": Profile(0.03282, 0.02293, 0.05452),
    "XOM": Profile(0.01534, 0.01044, 0.023),
    "AFRM": Profile(0.07425, 0.06957, 0.08118),
    "COIN": Profile(0.0745, 0.06961, 0.07753),
    "DKNG": Profile(0.06579, 0.05716, 0.07283),
    "IONQ": Profile(0.10521, 0.0924, 0.11275),
    "LCID": Profile(0.067, 0.06354, 0.07139),
    "MELI": Profile(0.04386, 0.04105, 0.05441),
    "META": Profile(0.03501, 0.03182, 0.03829),
    "MRNA": Profile(0.07171, 0.0662, 0.08456),
    "NKE": Profile(0.03072, 0.02829, 0.03366),
    "RTX": Profile(0.02489, 0.02427, 0.0257),
    "SMH": Profile(0.03071, 0.02892, 0.03314),
    "SNOW": Profile(0.06598, 0.0641, 0.06984),
    "SOXL": Profile(0.09732, 0.08803, 0.10605),
    "XLF": Profile(0.01665, 0.0157, 0.01768),
    "XLK": Profile(0.02459, 0.02377, 0.02637),
    "XLV": Profile(0.01284, 0.01221, 0.01362),
}



def profile_for(symbol: str, rng: random.Random) -> Profile | None:
    """The symbol's own profile, a draw from its kind's for another shipped ticker, or None
    for a made-up name (the generator's old draw)."""
    symbol = symbol.upper()
    if symbol in PROFILES:
        return PROFILES[symbol]
    kind = kind_of(symbol)
    if kind is None:
        return None
    peers = sorted(s for s in PROFILES if _kind(s) == kind) or sorted(
        s for s in PROFILES if _kind(s) == "stock")
    return PROFILES[rng.choice(peers)] if peers else None


def _kind(symbol: str) -> str:
    """A measured symbol's kind (a data-only symbol, no longer listed, was a stock)."""
    return kind_of(symbol) or "stock"


def sigma_path(profile: Profile, rng: random.Random, sessions: int) -> list[float]:
    """A daily return sigma for each of `sessions` consecutive sessions: the ATR level's log
    follows an AR(1) around log(median) with the profile's spread, divided by ATR_PER_SIGMA."""
    mu, spread = math.log(profile.median), profile.log_spread
    innovation = spread * math.sqrt(1.0 - PERSISTENCE**2)
    level = rng.gauss(mu, spread)
    path = []
    for _ in range(sessions):
        path.append(math.exp(level) / ATR_PER_SIGMA)
        level = mu + PERSISTENCE * (level - mu) + rng.gauss(0.0, innovation)
    return path


# -- measuring the table ------------------------------------------------------------------------


def measure(data_dir: Path) -> dict[str, Profile]:
    """Every symbol's profile from the shared data (see the module doc)."""
    from sim.market.bar_sources import CsvBarSource
    from sim.market.sessions import sessions_between

    out: dict[str, Profile] = {}
    source = CsvBarSource(data_dir)
    daily = data_dir / "daily"
    for path in sorted(daily.glob("*.csv")) if daily.is_dir() else []:
        bars = source.daily_bars(path.stem)
        values = atr_pct([(b.high, b.low, b.close) for b in bars])
        out[path.stem.upper()] = _profile(values[-RECENT_SESSIONS:])
    for symbol in sorted(set(source.symbols()) - set(out)):
        days = sorted(source.sessions(symbol))
        if not days:
            continue
        run = _longest_run(days, sessions_between(days[0], days[-1]))
        if len(run) < MIN_CONTIGUOUS:
            continue
        sessions = [source.session_bars(symbol, d) for d in run]
        out[symbol] = _profile(atr_pct([(max(b.high for b in s), min(b.low for b in s),
                                          s[-1].close) for s in sessions]))
    return out


def atr_pct(days: Sequence[tuple[float, float, float]], period: int = ATR_PERIOD) -> list[float]:
    """Wilder ATR(period)/close for each day from the period-th on, from (high, low, close)
    rows: the screen's reading (trade/indicators.py `atr`: the first true range needs a
    previous close, the average is seeded with the mean of the first `period` true ranges)."""
    if len(days) < period + 1:
        return []
    ranges = [max(h - lo, abs(h - days[i - 1][2]), abs(days[i - 1][2] - lo))
              for i, (h, lo, _) in enumerate(days) if i > 0]
    value = sum(ranges[:period]) / period
    out = [value / days[period][2]]
    for i in range(period + 1, len(days)):
        value += (ranges[i - 1] - value) / period
        out.append(value / days[i][2])
    return out


def _profile(values: Sequence[float]) -> Profile:
    ordered = sorted(values)
    return Profile(round(statistics.median(ordered), 5), round(_quantile(ordered, 0.1), 5),
                   round(_quantile(ordered, 0.9), 5))


def _quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _longest_run(days: Sequence[date], calendar: Sequence[date]) -> list[date]:
    """The longest stretch of `days` that are consecutive NYSE sessions."""
    have = set(days)
    best: list[date] = []
    current: list[date] = []
    for day in calendar:
        if day in have:
            current.append(day)
            if len(current) > len(best):
                best = list(current)
        else:
            current = []
    return best


def main(argv: Sequence[str] | None = None) -> int:
    from trade.config import ConfigError, require_market_data

    parser = argparse.ArgumentParser(
        prog="python -m sim.market.volatility",
        description="Measure each symbol's daily ATR(14)/close profile on the shared data "
                    "(the table the synthetic market draws from).")
    parser.add_argument("--data", type=Path, default=None,
                        help="the market data directory (daily/, intraday/; default: "
                             "MARKET_DATA_DIR)")
    args = parser.parse_args(argv)
    try:
        args.data = require_market_data(args.data)
    except ConfigError as exc:
        parser.error(str(exc))
    if not (args.data / "daily").is_dir() and not (args.data / "intraday").is_dir():
        parser.error(f"--data {args.data}: no daily/ or intraday/ there: point it at the shared "
                     "data")
    table = measure(args.data)
    for symbol, p in table.items():
        print(f'    "{symbol}": Profile({p.median}, {p.p10}, {p.p90}),')
    for kind in ("stock", "etf", "leveraged"):
        medians = sorted(p.median for s, p in table.items() if _kind(s) == kind)
        if medians:
            print(f"# {kind}: {len(medians)} symbols, medians {medians[0]:.2%} to "
                  f"{medians[-1]:.2%}, median {statistics.median(medians):.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
