"""`--state FILE`: the simulator's broker state on disk, so a restarted simulator process keeps it.

Saved as JSON (written to a temporary file, then renamed: a crash never leaves half a file)
whenever an order or an execution changed it, at most every `min_interval` seconds of real time,
and when the simulator stops. Holds the engine snapshot (`sim/engine/snapshot.py`) and the order
desk's id map, so a reconnecting client finds its GTC orders under its own order ids and never
gets an order id it already used.

The clock resumes at the saved time when that is later than the configured start and within the
replayed days (a restart mid-session continues mid-session); otherwise it starts as configured.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from sim.engine import snapshot


class StateFileError(ValueError):
    """The state file cannot be read or written; one line naming the file and the fix."""


class StateFile:
    def __init__(self, path: Path, min_interval: float = 0.5) -> None:
        self.path = Path(path)
        self.min_interval = min_interval
        self.dirty = False
        self._saved_at = 0.0

    def load_into(self, gateway: Any) -> bool:
        """Restore `gateway`'s engine and order ids from the file; False when there is none."""
        if not self.path.exists():
            return False
        try:
            data = json.loads(self.path.read_text())
            when = snapshot.saved_time(data)
        except (OSError, json.JSONDecodeError, snapshot.SnapshotError) as exc:
            raise StateFileError(f"--state {self.path}: cannot read it ({exc}); fix or delete the file") from exc
        clock, plan = gateway.clock, gateway.plan
        last_close = plan.replay(plan.last).session_close
        if clock.now() < when <= last_close:
            clock.advance_to(when)
        replay = plan.replay_at(clock.now())
        gateway.engine.set_replay(replay)
        gateway.feeds.set_replay(replay)
        saved_id = data.get("simulator_id")
        if isinstance(saved_id, str) and saved_id:
            gateway.accounts.simulator_id = saved_id  # the same simulator: the same records
        try:
            snapshot.restore(gateway.engine, data, clock.now())
            desk = data.get("desk", {})
            gateway.orders.restore_mapping(
                [tuple(row) for row in desk.get("orders", [])],
                {int(k): int(v) for k, v in desk.get("max_order_ids", {}).items()},
            )
        except (snapshot.SnapshotError, TypeError, ValueError) as exc:
            raise StateFileError(f"--state {self.path}: {exc}") from exc
        return True

    def save(self, gateway: Any) -> None:
        data = snapshot.take(gateway.engine)
        data["simulator_id"] = gateway.accounts.simulator_id
        data["desk"] = {
            "orders": gateway.orders.mapping(),
            "max_order_ids": {str(k): v for k, v in gateway.orders.max_ids().items()},
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, separators=(",", ":")))
            os.replace(tmp, self.path)
        except OSError as exc:
            raise StateFileError(f"--state {self.path}: cannot write it ({exc}); check the directory") from exc
        self.dirty = False
        self._saved_at = time.monotonic()

    def save_if_due(self, gateway: Any) -> None:
        if self.dirty and time.monotonic() - self._saved_at >= self.min_interval:
            self.save(gateway)
