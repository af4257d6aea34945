"""The nightly improvement report: `reports/improvement/improvement_report_<date>.json`.

The schema is documented in the README ("Nightly improvement cycle"). The report is stored in
the history DB with the cycle's decisions and written from that stored copy, so a second run of
the same night rewrites byte-identical JSON. Secrets never reach it: it is built from metrics,
regime, parameters and LLM text, and the stored copy goes through the DB's redaction.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from improvement.suggestions import Suggestion
from improvement.tuning import Validation

REPORT_DIR = "improvement"


@dataclass(slots=True)
class SuggestionOutcome:
    """One suggestion and what became of it."""

    suggestion: Suggestion
    applied: bool = False
    reason: str = ""
    validation: Validation | None = None
    ab_challenger: bool = False
    extra_sources: list[str] = field(default_factory=list)
    duplicate_of: SuggestionOutcome | None = None  # the same change, suggested first by another

    @property
    def sources(self) -> str:
        return "+".join([self.suggestion.source, *self.extra_sources])

    def as_dict(self) -> dict[str, Any]:
        s = self.suggestion
        return {
            "parameter": s.parameter, "old": s.old, "new": s.new, "source": self.sources,
            "priority": s.priority, "why": s.reason, "applied": self.applied,
            "reason": self.reason,
            "validation": self.validation.as_dict() if self.validation else None,
        }


def report_path(reports_dir: Path, day: str) -> Path:
    return Path(reports_dir) / REPORT_DIR / f"improvement_report_{day}.json"


def write_report(reports_dir: Path, report: dict[str, Any]) -> Path:
    """Write atomically (temp file + rename); the same report gives the same bytes."""
    path = report_path(reports_dir, report["date"])
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, sort_keys=False, allow_nan=False) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return path
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
