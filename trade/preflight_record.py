"""The paper-account preflight's record: one JSON file per account and day, read at the bot's start.

The preflight (trade/ib/preflight/) proves on the owner's own IB paper account the broker
behaviours the bot relies on but nobody can confirm from public sources, and writes what it saw
to `<logs>/preflight_<last 4 of the account>_<YYYY-MM-DD>.json` (a simulated account's under
`<logs>/sim/`, as its run logs). The day trader reads the newest one at its start
(trade/intraday/preflight_standing.py) and falls back to the conservative path where an answer
was "no". Why a module of its own, outside trade/ib: the day trader's core must read the record
without importing the IB adapter (only entry scripts wire trade.ib).

The account is stored masked (`****4567`); evidence texts pass `scrub_text` before they are
written, so an IB message that names the account never puts it in a file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from observability.redaction import mask_account, redact_json, scrub_text

RECORD_KIND = "ib-paper-preflight"
RECORD_VERSION = 1

# the steps, numbered as the issue that asked for them numbers them
STEPS: dict[int, str] = {
    1: "held market order (goodAfterTime)",
    2: "release by a modification clearing goodAfterTime",
    3: "OCA group of the exits' type",
    4: "bracket children around the parent's fill",
    5: "commission and position lag after executions",
    6: "concurrent position and open-order reads",
}
RELEASE_STEP = 2  # the flatten releases the backstop only where this step passed

# the bot's fallback where a step did not pass (steps without one are reported only)
FALLBACKS: dict[int, str] = {
    RELEASE_STEP: "the flatten cancels the exits, confirms and sells at market instead of "
                  "releasing the broker-held backstop",
}

_NAME = re.compile(r"^preflight_(?P<last4>.{1,4})_(?P<day>\d{4}-\d{2}-\d{2})\.json$")


class RecordError(ValueError):
    """A record that cannot be used; the message names the file and what is wrong."""


class StepVerdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"  # IB answered, and the answer is not what the bot relies on
    TIMEOUT = "timeout"  # no answer within the step's deadline
    ERROR = "error"  # the step could not be run to its end (a broker error, a signal)
    SKIPPED = "skipped"  # not run (what it needs failed before it)


@dataclass(slots=True)
class StepResult:
    """One step's verdict, its one-line answer, and the evidence (messages and timings seen)."""

    step: int
    verdict: StepVerdict = StepVerdict.ERROR  # until the step says otherwise
    answer: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    cleanup: str = ""

    @property
    def name(self) -> str:
        return STEPS.get(self.step, f"step {self.step}")

    @property
    def passed(self) -> bool:
        return self.verdict is StepVerdict.PASS

    def line(self) -> str:
        """The console line: `step 2 release ...: PASS - executed 0.02 s after the modification`."""
        answer = " ".join(self.answer.split())
        return f"step {self.step} {self.name}: {self.verdict.value.upper()} - {answer} ({self.seconds:.1f} s)"

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "name": self.name, "verdict": self.verdict.value,
                "answer": scrub_text(self.answer), "seconds": round(self.seconds, 3),
                "cleanup": scrub_text(self.cleanup), "evidence": _scrubbed(self.evidence)}

    @classmethod
    def from_json(cls, body: Any, where: str) -> StepResult:
        if not isinstance(body, dict) or not isinstance(body.get("step"), int):
            raise RecordError(f"{where}: a step is not an object with a step number")
        try:
            verdict = StepVerdict(str(body.get("verdict")))
        except ValueError:
            raise RecordError(f"{where}: step {body['step']} has verdict {body.get('verdict')!r}; "
                              f"expected one of {', '.join(v.value for v in StepVerdict)}") from None
        return cls(body["step"], verdict, str(body.get("answer", "")),
                   dict(body.get("evidence") or {}), float(body.get("seconds") or 0.0),
                   str(body.get("cleanup", "")))


@dataclass(slots=True)
class PreflightRecord:
    """What one preflight of one account saw, and whether it left the account as it found it."""

    account: str  # masked: ****4567
    simulated: bool
    symbol: str
    day: date
    started_at: datetime
    finished_at: datetime
    client_id: int
    steps: list[StepResult]
    account_check: dict[str, Any] = field(default_factory=dict)
    left_nothing: bool = True  # no order of the preflight works, its executions net to zero

    def step(self, number: int) -> StepResult | None:
        return next((s for s in self.steps if s.step == number), None)

    @property
    def passed(self) -> bool:
        """Every step passed and the preflight left nothing behind."""
        return self.left_nothing and len(self.steps) == len(STEPS) and all(s.passed for s in self.steps)

    @property
    def release_confirmed(self) -> bool:
        step = self.step(RELEASE_STEP)
        return step is not None and step.passed

    def fallbacks(self) -> list[str]:
        """The bot's fallbacks this record puts in force (a step with one that did not pass)."""
        return [f"step {n} did not pass: {text}" for n, text in FALLBACKS.items()
                if (s := self.step(n)) is None or not s.passed]

    def unconfirmed(self) -> list[int]:
        """Steps that did not pass and have no fallback: reported, for the owner to read."""
        return [n for n in STEPS if n not in FALLBACKS and ((s := self.step(n)) is None or not s.passed)]

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": RECORD_KIND, "version": RECORD_VERSION, "account": mask_account(self.account),
            "simulated": self.simulated, "symbol": self.symbol, "client_id": self.client_id,
            "date": self.day.isoformat(), "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(), "passed": self.passed,
            "fallbacks": self.fallbacks(), "left_nothing": self.left_nothing,
            "steps": [s.as_json() for s in self.steps],
            "account_check": _scrubbed(self.account_check),
        }

    def write(self, directory: Path) -> Path:
        """Write (replacing the same day's record of this account); returns the path."""
        directory.mkdir(parents=True, exist_ok=True)
        path = record_path(directory, self.account, self.day)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.as_json(), indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def from_json(cls, body: Any, where: str) -> PreflightRecord:
        if not isinstance(body, dict) or body.get("kind") != RECORD_KIND:
            raise RecordError(f"{where}: not a preflight record (no \"kind\": \"{RECORD_KIND}\")")
        if body.get("version") != RECORD_VERSION:
            raise RecordError(f"{where}: record version {body.get('version')!r}; this bot reads "
                              f"version {RECORD_VERSION}: run the preflight again")
        try:
            return cls(
                account=str(body["account"]), simulated=bool(body.get("simulated")),
                symbol=str(body["symbol"]), day=date.fromisoformat(body["date"]),
                started_at=datetime.fromisoformat(body["started_at"]),
                finished_at=datetime.fromisoformat(body["finished_at"]),
                client_id=int(body.get("client_id") or 0),
                steps=[StepResult.from_json(s, where) for s in body.get("steps") or []],
                account_check=dict(body.get("account_check") or {}),
                left_nothing=bool(body.get("left_nothing")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, RecordError):
                raise
            raise RecordError(f"{where}: malformed record ({type(exc).__name__}: {exc})") from None


def last4(account: str) -> str:
    """The account's last 4 characters (of a masked or a whole id), as the file name has them."""
    return str(account)[-4:]


def record_path(directory: Path, account: str, day: date) -> Path:
    return directory / f"preflight_{last4(account)}_{day.isoformat()}.json"


def latest_record_path(directory: Path, account: str) -> Path | None:
    """The newest record of this account in `directory` (by the date in its name), if any."""
    if not directory.is_dir():
        return None
    found = []
    for path in directory.glob(f"preflight_{last4(account)}_*.json"):
        match = _NAME.match(path.name)
        if match is not None and match["last4"] == last4(account):
            found.append((match["day"], path))
    return max(found)[1] if found else None


def load_record(path: Path) -> PreflightRecord:
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    return PreflightRecord.from_json(body, str(path))


def _scrubbed(value: Any) -> Any:
    """Evidence safe to write: account ids masked in every text, secret-looking values dropped."""
    return redact_json(value)
