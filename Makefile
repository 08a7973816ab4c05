PY ?= python3
VENV ?= .venv
# Extra arguments for pytest, e.g. make test PYTEST_ARGS='-x -k registry'
PYTEST_ARGS ?=

BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: quickstart test check bench bench-serving clean distclean

quickstart: $(VENV)/.installed
	$(BIN)/shipyard quickstart

# scripts/test.sh starts PostgreSQL and installs nginx (for tests/scale/test_replicas.py) when
# missing, with apt-get as root.
test: $(VENV)/.installed-dev
	VENV=$(VENV) bash scripts/test.sh $(PYTEST_ARGS)

check: $(VENV)/.installed-dev
	$(BIN)/ruff format --check
	$(BIN)/ruff check
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	@if [ -f bench/__main__.py ]; then \
		$(BIN)/python -m bench; \
	else \
		for f in bench/bench_*.py; do \
			[ -e "$$f" ] || continue; \
			echo "== $$f"; \
			$(BIN)/python "$$f" || exit 1; \
		done; \
	fi

# Serving throughput against a plain Starlette handler and a bare ASGI app (needs wrk, root for
# apt-get). E.g. make bench-serving BENCH_ARGS='--duration 5 --runs 1'
BENCH_ARGS ?=
bench-serving: $(VENV)/.installed-dev
	command -v wrk >/dev/null || apt-get install -y wrk
	$(BIN)/python bench/bench_serving.py $(BENCH_ARGS)

# pip is the last thing venv creates, so a half-made venv is finished on the next run.
$(BIN)/pip:
	$(PY) -m venv $(VENV)

# The stamps are redone when pyproject.toml changes (new dependencies).
$(VENV)/.installed: pyproject.toml | $(BIN)/pip
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

# Leaves the virtualenv alone; distclean removes it too.
clean:
	bash scripts/postgres.sh stop
	rm -rf build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache \
		.coverage .coverage.* coverage.xml htmlcov
	find src tests bench -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true

distclean: clean
	rm -rf $(VENV)
