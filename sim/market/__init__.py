"""Market data for the simulator: the replay clock, bar sources (shared CSV format, seeded
synthetic market), one session's replay with its intra-bar price path, IB history semantics and
NYSE session bounds."""
