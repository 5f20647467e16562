# The two commands of the README: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint check tools broker-stop clean native native-clean test-native

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Prometheus, promtool and Alertmanager from Debian's packages (rule tests, alert end-to-end test, demo)
tools:
	@bash scripts/install-tools.sh

demo: $(STAMP) tools
	$(VENV)/bin/cxkpi demo

test: $(STAMP) tools
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m topics.codegen --check
	$(PY) -m dashboards --check
	$(PY) -m streams.reference --check
	$(PY) -m bench.report --check

check: test lint

# The optional compiled core (mypyc; about a minute): `native-clean` goes back to the Python modules
native: $(STAMP)
	$(PY) -m streams.native build

native-clean: $(STAMP)
	$(PY) -m streams.native clean

# The core's own tests and the worker's again, the core compiled (CI runs both builds); leaves the tree clean.
# A real worker once, with batch delivery: Faust's agent delivery feeds the same core (`make test` runs both).
NATIVE_TESTS ?= tests/kpis tests/test_reference.py tests/test_native.py tests/worker tests/integration/test_worker.py
NATIVE_SELECT ?= not agent
test-native: native
	$(PY) -m pytest $(NATIVE_TESTS) -k '$(NATIVE_SELECT)'; status=$$?; $(PY) -m streams.native clean; exit $$status

broker-stop: $(STAMP)
	$(VENV)/bin/cxkpi broker stop

clean:
	rm -f streams/kpis/*.so topics/*.so streams/kpis/compiled-core.json
	rm -rf $(VENV) .cache .pytest_cache .mypy_cache .ruff_cache
