"""Where this account stands with the paper-account preflight, decided once at the day trader's start.

The flatten sells a protected position by releasing its broker-held backstop with one
modification that clears goodAfterTime (trade/intraday/flatten.py). IB advises modifying only
price, size and time in force ("Modifying Orders": "It is not generally recommended to try to
change order fields aside from order price, size, and tif"), and no public report says the
release works, so the bot trusts it only on an account where the preflight (trade/ib/preflight/,
`python day_trader.py --preflight`) saw it work: the newest record's step 2 passed. Anywhere else
— no record, an unreadable one, step 2 failed or never ran, a live account (the preflight runs
on paper only, and a record names its account by the last 4 characters, which a live account may
share with its paper twin) — the flatten cancels the exits, confirms and sells at market instead.

The simulator needs no preflight: a simulated account without a record keeps the release (the
simulator models it); one with a record follows it, so a test can run the fallback there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trade.models import Account
from trade.preflight_record import (
    FALLBACKS,
    RELEASE_STEP,
    STEPS,
    RecordError,
    latest_record_path,
    load_record,
)

log = logging.getLogger(__name__)

PREFLIGHT_COMMAND = "python day_trader.py --preflight"


@dataclass(frozen=True, slots=True)
class PreflightStanding:
    """What the start line says and whether the flatten may release the backstop."""

    release_backstop: bool
    line: str
    record: str | None = None  # the record's path, when one was read
    passed_at: str | None = None  # when the newest record's preflight finished (broker clock)
    passed: bool = False
    fallbacks: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        """For the run log."""
        return {"release_backstop": self.release_backstop, "record": self.record,
                "finished_at": self.passed_at, "passed": self.passed,
                "fallbacks": list(self.fallbacks), "line": self.line}


def preflight_standing(logs_dir: Path, account: Account) -> PreflightStanding:
    """The standing of `account` from the newest record in `logs_dir` (the directory the day's
    run log goes to: a simulated account's is its simulator's `sim_runs/<id>/logs`)."""
    who = f"account {account.masked_id}"
    fallback = FALLBACKS[RELEASE_STEP]
    if not account.is_paper and not account.simulated:
        # records name accounts by their last 4 characters only, and every record is of a paper
        # account: a live account never inherits one (its paper twin may share the last 4)
        return PreflightStanding(False, f"preflight: none for {who}, a live account (a preflight "
                                 f"runs on a paper account only); fallback in force: {fallback}",
                                 fallbacks=(fallback,))
    path = latest_record_path(logs_dir, account.account_id)
    if path is None:
        if account.simulated:
            return PreflightStanding(True, f"preflight: {who} is simulated: no preflight needed "
                                     "(the flatten releases the broker-held backstop)")
        return PreflightStanding(False, f"preflight: no preflight on record for {who} (run "
                                 f"`{PREFLIGHT_COMMAND}` once during regular hours); fallback in "
                                 f"force: {fallback}", fallbacks=(fallback,))
    try:
        record = load_record(path)
    except RecordError as exc:
        log.warning("preflight record not usable: %s", exc)
        return PreflightStanding(False, f"preflight: the record {path} is not usable ({exc}); "
                                 f"fallback in force: {fallback}", str(path), fallbacks=(fallback,))
    when = record.finished_at.strftime("%Y-%m-%d %H:%M")
    fallbacks = tuple(record.fallbacks())
    unconfirmed = record.unconfirmed()
    if record.passed:
        head = f"preflight: {who} passed a preflight on {when} ({record.symbol}, {path})"
    else:
        failed = [s.step for s in record.steps if not s.passed]
        missing = [n for n in STEPS if record.step(n) is None]
        what = ", ".join(f"step {n}" for n in sorted({*failed, *missing})) or "its account check"
        head = f"preflight: {who}: the preflight of {when} did not pass ({what}; {path})"
    tail = ("fallbacks in force: " + "; ".join(fallbacks)) if fallbacks else "no fallback in force"
    if unconfirmed:
        tail += (f"; unconfirmed, without a fallback: step{'s' if len(unconfirmed) > 1 else ''} "
                 + ", ".join(str(n) for n in unconfirmed) + " (see the record)")
    return PreflightStanding(record.release_confirmed, f"{head}: {tail}", str(path),
                             record.finished_at.isoformat(), record.passed, fallbacks)
