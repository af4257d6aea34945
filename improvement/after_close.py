"""The day trader's hand-over to the nightly cycle after the close, and the cycle's one-line
summary: what every caller of the cycle needs (the day trader's nightly step, the simulated
days, the paper-days replay, the command in improvement/cli.py), so it lives in the library and
the command only wires flags to it.

`after_close` reads the watchlist again over the configured defaults (its per-symbol overrides
are what the cycle must keep), builds the fast replayer over the night's sessions and the
DeepSeek endpoint from `.env` and the environment, and runs `improvement.cycle.run_cycle` on the
DB the day used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from evaluation.llm import LLMEndpoint
from improvement.cycle import CycleInputs, ImprovementOutcome, run_cycle
from improvement.fast_replay import BacktestReplayer
from improvement.gate import GateSettings
from improvement.replay import ReplayConfig, Replayer
from sim.market.replay import BarSource
from trade.config import Settings
from trade.models import Params
from trade.watchlist import Watchlist, load_watchlist


def llm_env(dotenv_path: Path | None = Path(".env"),
            environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`.env` < environment, with the settings' LLM_BASE_URL / LLM_MODEL standing in for
    DEEPSEEK_API_BASE / DEEPSEEK_MODEL when those are not set."""
    env: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        env.update({k: v for k, v in dotenv_values(dotenv_path).items() if v})
    env.update(os.environ if environ is None else environ)
    for ours, theirs in (("LLM_BASE_URL", "DEEPSEEK_API_BASE"), ("LLM_MODEL", "DEEPSEEK_MODEL")):
        if not env.get(theirs) and env.get(ours):
            env[theirs] = env[ours]
    return env


def watchlist_overrides(watchlist: Watchlist, defaults: Params) -> dict[str, dict[str, Any]]:
    """Each symbol's own overrides (what differs from the defaults it was loaded over)."""
    base = defaults.as_dict()
    out = {}
    for symbol in watchlist.symbols:
        own = {k: v for k, v in watchlist.params_for(symbol).as_dict().items() if v != base[k]}
        if own:
            out[symbol] = own
    return out


def after_close(settings: Settings, *, day: date, allocation: float, equity: float,
                replay_source: BarSource | None, regime: Sequence[Any] = (),
                env: Mapping[str, str] | None = None, gate: GateSettings | None = None,
                replayer: Replayer | None = None, data_source: str = "") -> ImprovementOutcome:
    """The day trader's hand-over after the close: the cycle on the DB the day used.

    `settings.params` must be the configured defaults (before tuning: the cycle tunes on top of
    them); the watchlist is read again over them so its own per-symbol overrides are known;
    `replay_source` holds the sessions to validate on (None: nothing is validated); a
    `replayer` kept across nights (built by `replayer_for`) reuses its replayed sessions."""
    watchlist = load_watchlist(settings.watchlist_path, settings.params)
    overrides = watchlist_overrides(watchlist, settings.params)
    if replayer is None and replay_source is not None:
        replayer = replayer_for(settings, replay_source, allocation, equity)
    env = llm_env() if env is None else env
    inputs = CycleInputs(
        day=day, base_params=settings.params, symbols=watchlist.symbols, allocation=allocation,
        equity=equity, reports_dir=settings.reports_dir, overrides=overrides, replayer=replayer,
        regime_bars=list(regime), llm=LLMEndpoint.deepseek(env),
        gate=gate or GateSettings(), data_source=data_source,
    )
    return run_cycle(settings.db_path, inputs)


def replayer_for(settings: Settings, source: BarSource, allocation: float,
                 equity: float) -> BacktestReplayer:
    """The backtester's fast engine over `source` for the watchlist (its per-symbol overrides
    kept); `improvement.replay.EventReplayer` (the live trader itself) remains available."""
    watchlist = load_watchlist(settings.watchlist_path, settings.params)
    config = ReplayConfig(allocation=allocation, equity=equity,
                          daily_loss_pct=settings.daily_loss_cap_pct / 100.0,
                          max_open_positions=settings.max_open_positions)
    return BacktestReplayer(source, watchlist.symbols, config,
                            watchlist_overrides(watchlist, settings.params))


def summary_line(outcome: ImprovementOutcome) -> str:
    r = outcome.report
    b = [s for s in r["suggestions"] if s.get("challenger")]
    tested = sum(bool(s.get("validation") and s["validation"].get("test"))
                 for s in r["suggestions"])
    ab = r["ab_test"]
    if ab["status"] == "promote" and ab.get("test"):
        t = ab["test"]
        change = (f"promoted {t['parameter']} {t['a'].get(t['parameter'])} -> "
                  f"{t['b'].get(t['parameter'])} (A/B test {t['id']} confirmed)")
    elif b:
        change = "challenger B " + ", ".join(f"{s['parameter']} {s['old']} -> {s['new']}"
                                             for s in b)
    else:
        change = "no change"
    again = " (already ran: nothing changed)" if outcome.already_ran else ""
    regime = r["regime"]["name"]
    if regime == "unknown":
        regime = f"UNKNOWN ({r['regime']['reason']})"
    window = r.get("window") or {}
    return (f"improvement cycle {r['date']}{again}: {len(r['suggestions'])} suggestions, "
            f"{tested} tested on {window.get('coverage', '?')}, {change}; LLM "
            f"{r['llm']['status']}; regime {regime}; A/B {ab['status']}; next session "
            f"{r['next_session']}{' variant ' + r['next_variant'] if r['next_variant'] else ''}"
            f"; report {outcome.path}")
