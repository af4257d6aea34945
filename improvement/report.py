"""The nightly improvement report: `reports/improvement/improvement_report_<date>.json`.

The schema is documented in docs/improvement.md. The report is stored in the history DB with the
cycle's decisions and written from that stored copy, so a second run of the same night rewrites
byte-identical JSON. Secrets never reach it: it is built from metrics, regime, parameters and
LLM text, and the stored copy goes through the DB's redaction. Every number in it is finite
(JSON has no NaN): the cycle checks the report before it commits anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from improvement.gate import GateVerdict
from improvement.suggestions import Suggestion

REPORT_DIR = "improvement"


@dataclass(slots=True)
class SuggestionOutcome:
    """One suggestion and what became of it, in one line a trader reads (`line`)."""

    suggestion: Suggestion
    reason: str = ""
    verdict: GateVerdict | None = None
    challenger: bool = False  # it passed the gate and trades as B from the next session
    extra_sources: list[str] = field(default_factory=list)
    duplicate_of: SuggestionOutcome | None = None  # the same change, suggested first by another

    @property
    def sources(self) -> str:
        return "+".join([self.suggestion.source, *self.extra_sources])

    @property
    def passed(self) -> bool:
        return self.verdict is not None and self.verdict.passed

    def line(self) -> str:
        s = self.suggestion
        old = "equal split" if s.old is None else s.old
        return f"{s.parameter} {old} -> {s.new} ({self.sources}): {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        s = self.suggestion
        return {
            "parameter": s.parameter, "old": s.old, "new": s.new, "source": self.sources,
            "priority": s.priority, "why": s.reason, "challenger": self.challenger,
            "passed": self.passed, "reason": self.reason, "decision": self.line(),
            "validation": self.verdict.as_dict() if self.verdict else None,
        }


def report_path(reports_dir: Path, day: str) -> Path:
    return Path(reports_dir) / REPORT_DIR / f"improvement_report_{day}.json"


def report_text(report: dict[str, Any]) -> str:
    """The report's JSON text; raises ValueError on a non-finite number (JSON has none)."""
    return json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"


def write_report(reports_dir: Path, report: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename); the same report gives the same bytes."""
    path = report_path(reports_dir, report["date"])
    path.parent.mkdir(parents=True, exist_ok=True)
    text = report_text(report)
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return path
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
