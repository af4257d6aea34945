"""The money-safety invariants, judged from the simulator's ground truth alone.

The checker never asks the bot: it reads `GatewaySimulator.state()` (every account's positions,
every order ever placed, every execution) during the run and the bot's history DB after it, and
it knows only what the campaign did (when the bot was down, when the Gateway refused):

- I1 no account position is ever negative, in any account;
- I2 the bot's exposure when an entry fills is at most allocation x net liquidation (2% slack for
  slippage and the move between decision and fill);
- I3 every position of the bot has exits at the broker covering exactly its quantity — one OCA
  group of take-profit, stop and (before the backstop time) the broker-held backstop flatten —
  within 5 s of opening or of a reconnect (time counts only while the bot runs and reaches the
  Gateway, after a grace for its start-up; a bot that ended by itself before the close counts as
  running: only the campaign's kills excuse it);
- I4 the bot's book is flat by flatten time + 60 s whenever the bot and the Gateway were up
  through that minute, and in every case by the close (the broker-held backstop);
- I5 every execution of the bot at the broker is in its DB exactly once, with its commission;
- I6 no order ref is ever sent twice;
- I7 other accounts' positions and the shares other books own never change;
- I8 the owner's and other books' shares are exactly what they were: none sold, no exit resting
  on them (`sim/chaos/ownership.py`: the bot's lot from its own executions, the foreign shares
  from what the campaign planted);
- I9 no task of the bot waits on the broker longer than its deadline: the bot, up at the close,
  has ended (its client id released) `SETTLE_BOUND_S` real seconds after it. The rest of I9 is
  judged by I3 (a position never left without its exits past the deadline, even when the bot's
  reads overlap) and I4 (flat by flatten + 60 s when reachable, else the backstop by the close).

The bot's own position per symbol is the account's minus the foreign shares (never below 0:
foreign shares sold are I8's).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sim.chaos.ownership import OwnershipCheck, OwnershipTruth

BOT_PREFIX = "DT-"
EXIT_LEGS = ("TP", "SL", "BKS")
PROTECTION_DEADLINE_S = 5.0
STARTUP_GRACE_S = 1.0  # the clock waits while the bot starts; this covers its first second
RESTART_GRACE_S = 5.0  # a bot restarted mid-session: process start, connect, reconcile
RECONNECT_GRACE_S = 3.0  # after the Gateway is back: the bot's reconnect backoff (0.5 s doubling)
RESTORE_GRACE_S = 2.0  # after 1101/1102: the bot reconciles
EXPOSURE_SLACK = 1.02
SETTLE_BOUND_S = 30.0  # real seconds after the close by which a bot up at the close has ended


def _leg(ref: str) -> str:
    return ref.rsplit("-", 1)[-1] if ref.startswith(BOT_PREFIX) else ""


@dataclass
class Context:
    """What the campaign knows at an observation (wall-clock seconds, monotonic)."""

    wall: float
    bot_up: bool
    reachable: bool
    quiet_since: float  # wall time from which the bot can be expected to have acted: after its
    # (re)start and after the Gateway came back, each plus its grace


@dataclass
class InvariantChecker:
    account: str
    allocation: float
    flatten_at: datetime
    close: datetime
    backstop_at: datetime
    weekly: Mapping[str, int] = field(default_factory=dict)
    others_at_start: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    ownership: OwnershipTruth | None = None  # default: the weekly book's shares are the foreign ones
    violations: list[str] = field(default_factory=list)
    unknowable: list[str] = field(default_factory=list)  # commissions no run of the bot could get
    condemned: set[tuple[str, str]] = field(default_factory=set)  # (I3|I8, symbol) found already
    observations: int = 0
    _seen: set[str] = field(default_factory=set)
    _unprotected_since: dict[str, float] = field(default_factory=dict)
    exposed: set[str] = field(default_factory=set)  # symbols held without correct exits now
    at_risk: set[str] = field(default_factory=set)  # sells resting on foreign shares now
    holding: bool = False  # the bot holds shares or has working orders now
    _entry_fills: dict[int, float] = field(default_factory=dict)
    _flat_window_clean: bool = True
    _checked_flatten: bool = False
    _last_seen: tuple[datetime, bool] | None = None  # the previous observation: (market time, up)
    _checked_close: bool = False
    _groups_seen: set[str] = field(default_factory=set)  # OCA groups of the bot's exits seen

    def __post_init__(self) -> None:
        if self.ownership is None:
            self.ownership = OwnershipTruth(self.account, foreign=dict(self.weekly))
        self._i8 = OwnershipCheck(self.ownership, PROTECTION_DEADLINE_S, self.violate)

    def violate(self, code: str, text: str) -> None:
        key = f"{code}:{text.split(':')[0]}"
        if code in ("I3", "I8"):
            self.condemned.add((code, text.split(":")[0]))
        if key not in self._seen:  # one line per invariant and subject
            self._seen.add(key)
            self.violations.append(f"{code} {text}")

    def overran_close(self, seconds: float) -> None:
        """I9: the bot was up at the close and still ran `seconds` real seconds later."""
        self.violate("I9", f"the run did not end: the bot still ran {seconds:.0f} s after the close "
                           f"(bound {SETTLE_BOUND_S:g} s; a task waits on the broker and the client "
                           "id stays taken)")

    # -- during the run -----------------------------------------------------------------------
    def observe(self, state: Mapping[str, Any], ctx: Context) -> None:
        self.observations += 1
        now = datetime.fromisoformat(state["time"])
        accounts = state["accounts"]
        for account, book in accounts.items():  # I1
            for symbol, position in book["positions"].items():
                if position["qty"] < 0:
                    self.violate("I1", f"{account[-4:]} {symbol}: position {position['qty']} at {now:%H:%M:%S}")
        main = accounts[self.account]["positions"]
        assert self.ownership is not None
        foreign = self.ownership.foreign
        own = {s: max(0, int(p["qty"]) - foreign.get(s, 0)) for s, p in main.items()}
        for symbol, qty in self.weekly.items():  # I7: the weekly book's shares
            if int(main.get(symbol, {}).get("qty", 0)) < qty:
                self.violate("I7", f"{symbol}: the weekly book's {qty} shares were sold "
                                   f"({main.get(symbol, {}).get('qty', 0)} left) at {now:%H:%M:%S}")
        for account, start in self.others_at_start.items():  # I7: other accounts
            held = {s: p["qty"] for s, p in accounts[account]["positions"].items()}
            if held != dict(start):
                self.violate("I7", f"{account[-4:]}: positions {held} changed from {dict(start)}")
        self._check_exposure(state, own, accounts[self.account]["net_liquidation"])
        self._check_protection(state, own, now, ctx)
        self._check_flat(own, now, ctx)
        counting = ctx.bot_up and ctx.reachable and ctx.wall - ctx.quiet_since > 0
        self._i8.observe(state, ctx.wall, counting, now)  # I8
        # a symbol already judged needs no slow clock any more (exits resting on shares the bot
        # does not hold are I8's: judged there, they no longer slow the clock either)
        judged = {code: {s for c, s in self.condemned if c == code} for code in ("I3", "I8")}
        self.exposed = ((self.exposed - judged["I3"] - judged["I8"])
                        | (self._i8.pending - judged["I8"]))
        self.at_risk = self._i8.over - judged["I8"]
        self.holding = any(own.values()) or any(
            o["ref"].startswith(BOT_PREFIX) and o["account"] == self.account
            and o["status"] in ("PreSubmitted", "Submitted", "PendingSubmit")
            for o in state["orders"])

    def _check_exposure(self, state: Mapping[str, Any], own: Mapping[str, int], net_liq: float) -> None:
        main = state["accounts"][self.account]["positions"]
        for order in state["orders"]:
            ref = order["ref"]
            if not ref.startswith(BOT_PREFIX) or _leg(ref) != "ENTRY" or order["account"] != self.account:
                continue
            if order["filled"] <= self._entry_fills.get(order["order_id"], 0.0):
                continue
            self._entry_fills[order["order_id"]] = order["filled"]
            exposure = sum(max(q, 0) * main[s]["avg_cost"] for s, q in own.items() if s in main)
            cap = self.allocation * net_liq
            if exposure > cap * EXPOSURE_SLACK:
                self.violate("I2", f"{ref}: exposure {exposure:,.2f} above {self.allocation:g} x "
                                   f"net liquidation {net_liq:,.2f} = {cap:,.2f}")

    def _check_protection(self, state: Mapping[str, Any], own: Mapping[str, int], now: datetime,
                          ctx: Context) -> None:
        counting = (ctx.bot_up and ctx.reachable and now < self.flatten_at
                    and ctx.wall - ctx.quiet_since > 0)
        filled_parents = {o["order_id"] for o in state["orders"] if o["status"] == "Filled"}
        replaced = self._new_full_groups(state, own)
        self.exposed.clear()
        for symbol, qty in own.items():
            problem = None if qty <= 0 else self._protection_problem(
                state, symbol, qty, now, filled_parents)
            if problem is not None and now < self.flatten_at:
                self.exposed.add(symbol)
            if problem is None or not counting:
                self._unprotected_since.pop(symbol, None)
                continue
            if symbol in replaced:  # protected for a moment between two looks: a new fault
                self._unprotected_since[symbol] = ctx.wall
            since = self._unprotected_since.setdefault(symbol, ctx.wall)
            if ctx.wall - since > PROTECTION_DEADLINE_S:
                self.violate("I3", f"{symbol}: {qty} shares {problem} for more than "
                                   f"{PROTECTION_DEADLINE_S:g} s (at {now:%H:%M:%S})")
        # An exit resting with nothing held is a short waiting to happen: the bot removes it
        # within seconds, so those seconds, too, run at the realistic pace (seed 147).
        if now < self.flatten_at:
            self.exposed.update(
                o["symbol"] for o in state["orders"]
                if o["ref"].startswith(BOT_PREFIX) and _leg(o["ref"]) in EXIT_LEGS
                and o["account"] == self.account and o["status"] in ("PreSubmitted", "Submitted")
                and not own.get(o["symbol"]) and not o["parent_id"])

    def _new_full_groups(self, state: Mapping[str, Any], own: Mapping[str, int]) -> set[str]:
        """Symbols for which a complete exit group of the bot (take-profit and stop for the
        whole position) appeared since the last look, whatever its status now. The campaign
        looks every ~50 ms; a group the bot placed and a person cancelled between two looks
        (seed 237: 27 ms apart) did protect the position, and the next fault's 5 s start
        afresh rather than at the first fault's."""
        groups: dict[str, list[Mapping[str, Any]]] = {}
        for o in state["orders"]:
            if o["ref"].startswith(BOT_PREFIX) and _leg(o["ref"]) in EXIT_LEGS \
                    and o["account"] == self.account and o["oca"] and not o["parent_id"]:
                groups.setdefault(o["oca"], []).append(o)
        fresh = set(groups) - self._groups_seen
        self._groups_seen.update(groups)
        return {legs[0]["symbol"] for oca in fresh if (legs := groups[oca])
                and {"LMT", "STP"} <= {o["type"] for o in legs}
                and all(int(o["qty"]) == own.get(o["symbol"], 0) for o in legs)}

    def _protection_problem(self, state: Mapping[str, Any], symbol: str, qty: int, now: datetime,
                            filled_parents: set[int]) -> str | None:
        legs = [o for o in state["orders"]
                if o["ref"].startswith(BOT_PREFIX) and _leg(o["ref"]) in EXIT_LEGS
                and o["symbol"] == symbol and o["account"] == self.account
                and o["status"] in ("PreSubmitted", "Submitted")
                and (not o["parent_id"] or o["parent_id"] in filled_parents)]
        if not legs:
            return "without exits"
        if len({o["oca"] for o in legs}) != 1 or not legs[0]["oca"]:
            return f"with exits in {len({o['oca'] for o in legs})} OCA groups"
        kinds = sorted(o["type"] for o in legs)
        expected = ["LMT", "MKT", "STP"] if now < self.backstop_at else ["LMT", "STP"]
        if now < self.backstop_at and kinds != expected:
            return f"with exit legs {kinds}"
        if not {"LMT", "STP"} <= set(kinds):
            return f"with exit legs {kinds}"
        wrong = [o for o in legs if int(o["remaining"]) != qty]
        if wrong:
            return f"with exits for {[int(o['remaining']) for o in wrong]} shares"
        return None

    def _check_flat(self, own: Mapping[str, int], now: datetime, ctx: Context) -> None:
        held = {s: q for s, q in own.items() if q}
        up = ctx.bot_up and ctx.reachable and ctx.wall - ctx.quiet_since > 0
        # The minute is judged from every observation in it and from the two around it: on a
        # loaded machine the loop can miss the whole minute (1 real second at 60x), and what it
        # last saw before it (the bot down, the Gateway away) then still counts.
        previous, self._last_seen = self._last_seen, (now, up)
        overlaps = now >= self.flatten_at and (
            previous is None or previous[0] < self.flatten_at + timedelta(seconds=60))
        if overlaps and not (up and (previous is None or previous[1])):
            self._flat_window_clean = False
        if not self._checked_flatten and now >= self.flatten_at + timedelta(seconds=60):
            self._checked_flatten = True
            if self._flat_window_clean and held:
                self.violate("I4", f"not flat at flatten + 60 s ({now:%H:%M:%S}): {held}")
        if not self._checked_close and now >= self.close:
            self._checked_close = True
            if held:
                self.violate("I4", f"not flat at the close ({now:%H:%M:%S}): {held}")

    # -- after the run ------------------------------------------------------------------------
    def finish(self, state: Mapping[str, Any], recorded: list[tuple[str, float]], *,
               pending: Collection[str] = (), last_client_id: int | None = None) -> None:
        """`recorded`: (exec id, commission) of every execution row in the bot's DB; `pending`:
        the rows the DB marks as waiting for their commission; `last_client_id`: the client id
        of the bot's last run. IB sends an execution's commission report only to the client
        that placed the order: a row left pending because every later run used another client
        id (a person restarted the bot under the id that owned the working exits) cannot be
        completed by any run, and is noted rather than judged."""
        refs = [r for r in state["order_refs"] if r.startswith(BOT_PREFIX)]
        reused = sorted({r for r in refs if refs.count(r) > 1})
        if reused:
            self.violate("I6", f"order refs sent more than once: {reused[:5]}")
        fills = {f["exec_id"]: f for f in state["fills"]
                 if f["ref"].startswith(BOT_PREFIX) and f["account"] == self.account}
        ids = [exec_id for exec_id, _ in recorded]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            self.violate("I5", f"executions recorded twice: {twice[:3]}")
        missing = sorted(set(fills) - set(ids))
        if missing:
            shown = [f"{i} ({fills[i]['ref']} {fills[i].get('side', '')} {fills[i].get('shares', '')})"
                     for i in missing[:3]]
            self.violate("I5", f"{len(missing)} broker execution(s) missing from the DB: {shown}")
        for exec_id, commission in recorded:
            fill = fills.get(exec_id)
            if fill is not None and exec_id in pending and last_client_id is not None \
                    and fill.get("client_id") not in (None, last_client_id):
                self.unknowable.append(exec_id)
                continue
            if fill is not None and abs(fill["commission"] - commission) > 1e-6:
                self.violate("I5", f"{exec_id}: commission {commission} recorded, "
                                   f"{fill['commission']} charged")
        if not self._checked_close:
            self.violate("I4", "the run ended before the close was observed")
