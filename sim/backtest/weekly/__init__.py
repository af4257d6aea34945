"""The weekly rebalancer's policy backtested with its live decision code over the shared daily
data: `python -m sim.backtest.weekly` (cli.py); how, in engine.py."""
