# The venv is created on first use; dependencies are reinstalled only when a requirements file changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# the suite's processes: its tests are isolated (own ports, own temp dirs); 0 runs them in one.
# 6 on 2 cores: most long tests wait on a simulated day in real time, so more workers than
# cores fill the waits with the CPU-bound tests (docs/testing.md)
TEST_WORKERS ?= 6

.PHONY: test run lint bench clean

$(VENV)/.runtime-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

test: $(VENV)/.dev-installed
	$(PY) -m pytest -q -n $(TEST_WORKERS)

lint: $(VENV)/.dev-installed
	$(PY) -m ruff check .
	$(PY) -m mypy .

run: $(VENV)/.runtime-installed
	$(PY) day_trader.py --allocation 0.25 --sim

bench: $(VENV)/.dev-installed
	$(PY) benchmarks/indicators.py
	$(PY) benchmarks/gateway.py
	$(PY) benchmarks/history_db.py
	$(PY) benchmarks/decision_latency.py
	$(PY) benchmarks/montecarlo.py
	$(PY) benchmarks/backtest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
