"""What the preflight's steps share: the broker, the tape, the desk, the options, the account as
found, and the one thing a step hands to the next (step 1's held group, released by step 2)."""

from __future__ import annotations

from dataclasses import dataclass

from trade.ib.broker import IBBroker
from trade.ib.preflight.account_check import AccountView
from trade.ib.preflight.desk import PreflightDesk
from trade.ib.preflight.options import PreflightOptions
from trade.ib.preflight.tape import IB_STATUSES, Tape
from trade.models import ExitTickets, OrderStatus, OrderTicket
from trade.preflight_record import StepResult

DONE_WITHOUT_FILL = frozenset({OrderStatus.CANCELLED.value, OrderStatus.API_CANCELLED.value})


@dataclass(slots=True)
class Run:
    broker: IBBroker
    tape: Tape
    desk: PreflightDesk
    options: PreflightOptions
    before: AccountView
    held: ExitTickets | None = None  # step 1's group: its backstop is what step 2 releases

    @property
    def symbol(self) -> str:
        return self.desk.symbol


def stage(result: StepResult, text: str) -> None:
    """What the step is waiting for now: a step that times out says where it stalled."""
    result.evidence["stage"] = text


def ib_statuses(run: Run, order_id: int, since: float, until: float = float("inf")) -> list[str]:
    """The statuses IB reported for an order in a window, repeats collapsed."""
    out: list[str] = []
    for seen in run.tape.statuses(order_id, since, until):
        status = seen.message.status
        if status in IB_STATUSES and (not out or out[-1] != status):
            out.append(status)
    return out


def legs(group: ExitTickets) -> dict[str, int]:
    found = {"TP": group.take_profit, "SL": group.stop_loss, "BKS": group.backstop}
    return {label: ticket.order_id for label, ticket in found.items() if ticket is not None}


async def listed(run: Run) -> dict[int, OrderTicket]:
    """IB's working orders of this client now, by id (reqOpenOrders, not a cache)."""
    return {o.order_id: o for o in await run.broker.open_orders() if o.status.is_working}


def said_cancelled(run: Run, order_id: int) -> bool:
    """The client heard the order end without a fill (a trigger to look, not the proof: the
    client library also marks an order Cancelled after an error that left it working)."""
    return run.tape.last_status(order_id) in DONE_WITHOUT_FILL and not run.tape.executed(order_id)


def ended_unfilled(run: Run, order_id: int, working: dict[int, OrderTicket]) -> bool:
    """Cancelled by IB's own account: no longer listed working, and never executed."""
    return order_id not in working and not run.tape.executed(order_id)
