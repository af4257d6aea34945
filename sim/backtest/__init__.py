"""Backtests and parameter sweeps: the live trader replayed (event engine) and its compiled twin
(fast engine), proven identical by parity tests; sweeps on local cores or a Dask cluster."""
