"""What IB said about an order, before the adapter interprets it: for tools that must report it.

The adapter turns IB's messages into the bot's models (trade/ib/translate.py) and into log lines
at their true weight (`IBBroker._on_error`). A tool that proves IB's behaviour on an account —
the paper-account preflight (trade/ib/preflight/) — needs the messages themselves: the text of
IB's 399 warning for a held order ("Order Message: ... Warning: Your order will not be placed at
the exchange until ..."; IB's message codes page lists 399 as "Order message error"), the code
and text of a refused modification, and `whyHeld` from orderStatus (ibapi `EWrapper.orderStatus`
documents it as the reason an order is held). `IBBroker.add_message_handler` hands each one over
as an `IBMessage`; trading decisions never read them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IBMessage:
    """One error/warning (`code` set) or one orderStatus (`code` 0, `status` set).

    `status` is the client library's view of the order right then: ib_async reports IB's own
    statuses, and also its own `ValidationError` after a warning such as 399 and `Cancelled`
    after an error on an order (its wrapper's `error`), which IB itself may not have sent."""

    order_id: int  # IB's request id for an error (-1: not about a request), the order id else
    code: int = 0
    text: str = ""
    status: str = ""
    why_held: str = ""
    filled: float = 0.0
    remaining: float = 0.0

    @property
    def is_status(self) -> bool:
        return self.code == 0


MessageHandler = Callable[[IBMessage], None]
