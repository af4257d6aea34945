"""`python -m sim.conformance --port P [--json]`: walk a real client through every request kind.

Connects ib_async (the project's client) to a Gateway (the simulator, or any TWS/Gateway) and
sends each request kind in `kinds.KINDS` in turn: one line per kind saying whether it was
answered, refused with an IB-style error, or got no answer within 5 s, and the last line
`conformance: N/M`, N being the kinds answered the way a real Gateway answers them (data for
what the simulator serves, an error for what it refuses). It places one 1-share buy limit order
at half the price and cancels it; it never sends reqGlobalCancel.

The walk is the one place outside `trade/ib/` that imports an IB client library: it *is* a
client of the Gateway, as a user's script is (tests/test_architecture.py names the exception).
"""
