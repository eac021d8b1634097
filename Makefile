# The project's entry points. `make test` is what CI runs; `make bench` runs the benchmarks.
#
# Two virtualenvs, so that neither slows or changes the other: `make test`
# uses .venv (the test and docs extras), `make bench` uses .venv-bench (the
# bench extra: matplotlib and the peer libraries). Each is created on first use.
PYTHON     ?= python3
VENV       ?= .venv
BENCH_VENV ?= .venv-bench
BIN        := $(VENV)/bin
BENCH_BIN  := $(BENCH_VENV)/bin
QUICK      ?=

.PHONY: test lint types pytest docs bench bench-ft bench-render bench-micro reliability fmt clean example

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BENCH_BIN)/python:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $@

$(BENCH_VENV)/.installed-bench: pyproject.toml | $(BENCH_BIN)/python
	$(BENCH_BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@

test: lint types pytest docs

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests bench docs examples
	$(BIN)/ruff format --check src tests bench docs examples

types: $(VENV)/.installed-test
	$(BIN)/mypy --strict

# The seed's own test class needs pytest-asyncio's auto mode (its async
# fixture is a plain @pytest.fixture); auto mode would also grab the AnyIO
# tests, so it runs on its own.
# The core tests run twice: with the layout this build picks, and with the
# free-threaded layout (one dict per shard) forced, so both read paths are tested.
LAYOUT_TESTS := tests --ignore=tests/seed --ignore=tests/test_bench_smoke.py \
	--ignore=tests/test_exports.py --ignore=tests/test_doc_snippets.py --ignore=tests/typing \
	--ignore=tests/test_example_users_service.py --ignore=tests/test_asgi_servers.py
pytest: $(VENV)/.installed-test
	$(BIN)/python -m pytest tests --ignore=tests/seed
	SWEEPCACHE_TEST_LAYOUT=sharded $(BIN)/python -m pytest $(LAYOUT_TESTS) -q
	$(BIN)/python -m pytest tests/seed -o asyncio_mode=auto -p no:anyio

docs: $(VENV)/.installed-test
	$(BIN)/sphinx-build -n -W --keep-going -q -b html docs docs/_build/html

# Full runs write bench/results/ (what the docs publish); QUICK=1 runs write
# the git-ignored bench/results-quick/.
# `make bench FT_PYTHON=/opt/py313t/bin/python3.13t` also runs the threads suite
# on that free-threaded interpreter first (threads-ft.json, beside threads.json).
FT_PYTHON ?=
FT_VENV   ?= .venv-ft

bench: $(BENCH_VENV)/.installed-bench $(if $(FT_PYTHON),bench-ft,)
	$(BENCH_BIN)/python -m bench $(if $(QUICK),--quick,)

# The free-threaded venv gets only what the threads suite imports. cachebox
# 6.0.0 is its newest release with a cp313t wheel (later ones need a Rust
# build); matplotlib has none: the GIL run draws the plot from the JSON.
$(FT_VENV)/.installed: pyproject.toml
	$(FT_PYTHON) -c 'import sys; assert not sys._is_gil_enabled(), "FT_PYTHON has the GIL on"'
	$(FT_PYTHON) -m venv $(FT_VENV)
	$(FT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FT_VENV)/bin/python -m pip install --quiet -e . cachetools theine
	-$(FT_VENV)/bin/python -m pip install --quiet --only-binary :all: 'cachebox<=6.0.0'
	touch $@

bench-ft: $(FT_VENV)/.installed
	$(FT_VENV)/bin/python -m bench threads --no-plots --no-summary $(if $(QUICK),--quick,)

# Redraw the plots and summary.md from the JSON already there, without running anything.
bench-render: $(BENCH_VENV)/.installed-bench
	$(BENCH_BIN)/python -m bench --render $(if $(QUICK),--quick,)

bench-micro: $(BENCH_VENV)/.installed-bench
	$(BENCH_BIN)/python -m pytest bench/micro -p no:cacheprovider --benchmark-only -o addopts="" -o filterwarnings=""

# The long runs CI cannot afford, each printing its figure (about an hour):
# the hypothesis state machines at 2,000 examples x 50 steps on asyncio,
# uvloop and trio; 10,000 cancellation-fuzz runs per backend; a 10-minute churn
# soak per backend; the Redis tier's 1M-input decoder fuzz and fault soak.
reliability: $(VENV)/.installed-test
	SWEEPCACHE_RELIABILITY=1 SWEEPCACHE_MODEL_EXAMPLES=2000 SWEEPCACHE_MODEL_STEPS=50 \
	$(BIN)/python -m pytest -o timeout=0 -s -q -o addopts="" \
	tests/test_model.py tests/test_model_features.py tests/test_model_loading.py tests/reliability

fmt: $(VENV)/.installed-test
	$(BIN)/ruff format src tests bench docs examples
	$(BIN)/ruff check --fix src tests bench docs examples

# The example service (examples/users_service) on the local PostgreSQL, port 8000.
example: $(VENV)/.installed-test
	$(BIN)/python -m examples.users_service

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(FT_VENV) docs/_build docs/_generated .mypy_cache .ruff_cache .pytest_cache .hypothesis
