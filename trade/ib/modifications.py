"""The bot's order modifications awaiting IB's answer.

IB modifies an order when placeOrder is sent again with its id; it answers with the order
(openOrder) when it applied the change, or with an error when it refused it (105, 201, ...) and
the order then stays as it was, still working. ib_async reads such a refusal as the order's end
(201: Cancelled) or as a validation state (105), and announces that status *before* the error
itself. Taken at its word, a refused release of the held backstop looked applied and its order
looked gone: the flatten waited on a backstop that only sold at its goodAfterTime. This ledger
keeps, per order, what the modification was and the status the order had when it went out, so
the error decides the answer and the misread status is put back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from trade.ib import errors as ib_errors

# the codes that answer a modification: refused (the order unchanged) or finished (filled or
# cancelled as the modification crossed it)
ANSWER_CODES = ib_errors.ORDER_REJECTED | ib_errors.MODIFY_OF_A_FINISHED_ORDER


@dataclass(slots=True)
class _Pending:
    ref: str
    status_before: str  # the order's status when the modification went out
    answer: asyncio.Future[int]  # 0: applied, else IB's code


class Modifications:
    """Modifications sent and not yet answered, by order id. An entry stays until IB answers,
    even after its caller stopped waiting: a late refusal is still read as a refusal."""

    def __init__(self) -> None:
        self._pending: dict[int, _Pending] = {}

    def sent(self, order_id: int, ref: str, status_before: str) -> asyncio.Future[int]:
        """Record a modification going out; the future resolves with IB's answer."""
        answer = asyncio.get_running_loop().create_future()
        self._pending[order_id] = _Pending(ref, status_before, answer)
        return answer

    def awaits_answer(self, order_id: int) -> bool:
        return order_id in self._pending

    def applied(self, order_id: int) -> None:
        """IB sent the order back: the modification is in force."""
        self._resolve(order_id, 0)

    def answered(self, order_id: int, code: int) -> str | None:
        """IB answered with an error code; returns the modified order's ref (None if no
        modification of that order awaited an answer)."""
        pending = self._pending.get(order_id)
        if pending is None or code not in ANSWER_CODES:
            return None
        self._resolve(order_id, code)
        return pending.ref

    def misread_refusal(self, trade: Any) -> bool:
        """True (and the status put back) when `trade`'s latest status is the client library's
        reading of an error that answers a pending modification, not a state IB reported."""
        pending = self._pending.get(trade.order.orderId)
        if pending is None or not trade.log:
            return False
        if trade.log[-1].errorCode not in ANSWER_CODES:
            return False
        trade.orderStatus.status = pending.status_before
        return True

    def _resolve(self, order_id: int, code: int) -> None:
        pending = self._pending.pop(order_id, None)
        if pending is not None and not pending.answer.done():
            pending.answer.set_result(code)
