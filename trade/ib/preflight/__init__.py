"""The paper-account preflight: prove on the owner's own IB paper account, once and in about a
minute, the broker behaviours the bot relies on but nobody can confirm from public sources.

`python day_trader.py --preflight [SYMBOL]` or `python -m trade.ib.preflight --symbol SYMBOL`,
on a paper account (DU...) during regular hours, with one share (SPY by default):

1. a held market order with goodAfterTime in the future: accepted? its status, 399 warning and
   whyHeld (steps_held.py);
2. its release by a modification clearing goodAfterTime: accepted, executed at once?
3. an OCA group of the exits' type: the execution of one member cancels the others?
   (steps_groups.py)
4. a bracket whose parent is a marketable limit: the children before, at and after its fill;
5. the lag from execDetails to the commission report and to the position update (steps_reads.py);
6. two concurrent position and open-order reads through the bot's broker layer both answer.

Each step is bounded in time and cleaned up (desk.py: every order it placed cancelled, every
share it bought sold); the account is compared before and after (account_check.py); one console
line per step; the record (trade/preflight_record.py) is what the day trader's start reads
(trade/intraday/preflight_standing.py): where step 2 did not pass, its flatten cancels, confirms
and sells instead of releasing the backstop. Against the simulator it runs unchanged.

The package itself imports nothing heavy, so `python -m trade.ib.preflight --help` answers at
once: the run is `trade.ib.preflight.runner.run_preflight`, the command `command.run_command`.
"""
