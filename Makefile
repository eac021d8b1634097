# The project's entry points. `make test` is what CI runs; `make bench` is the main job.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
QUICK  ?=

.PHONY: test lint types pytest docs bench bench-micro fmt clean example

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
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
	--ignore=tests/test_exports.py --ignore=tests/test_readme.py --ignore=tests/typing \
	--ignore=tests/test_example_users_service.py --ignore=tests/test_asgi_servers.py
pytest: $(VENV)/.installed-test
	$(BIN)/python -m pytest tests --ignore=tests/seed
	SWEEPCACHE_TEST_LAYOUT=sharded $(BIN)/python -m pytest $(LAYOUT_TESTS) -q
	$(BIN)/python -m pytest tests/seed -o asyncio_mode=auto -p no:anyio

docs: $(VENV)/.installed-test
	$(BIN)/sphinx-build -n -W --keep-going -q -b html docs docs/_build/html

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench $(if $(QUICK),--quick,)

bench-micro: $(VENV)/.installed-bench
	$(BIN)/python -m pytest bench/micro -p no:cacheprovider --benchmark-only -o addopts="" -o filterwarnings=""

fmt: $(VENV)/.installed-test
	$(BIN)/ruff format src tests bench docs examples
	$(BIN)/ruff check --fix src tests bench docs examples

# The example service (examples/users_service) on the local PostgreSQL, port 8000.
example: $(VENV)/.installed-test
	$(BIN)/python -m examples.users_service

clean:
	rm -rf $(VENV) docs/_build .mypy_cache .ruff_cache .pytest_cache .hypothesis
