# Dev commands live here; CI calls exactly these.
VENV   ?= .venv
PYTHON ?= python3
UV     := $(VENV)/bin/uv
UV_VERSION := 0.13.9
CHROMIUM ?= /usr/bin/chromium
NPM ?= /usr/bin/npm
PGBOUNCER ?= /usr/sbin/pgbouncer
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint check install install-dev bench bench-tools clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: $(UV)  ## runtime dependencies, exactly as locked in uv.lock
	$(UV) sync --frozen --inexact --quiet

# --compile-bytecode: with PYTHONDONTWRITEBYTECODE set (as on our machines) nothing is cached on
# import, and every `skyferry` process the tests start would compile its dependencies anew;
# npm ci: the ASL validator `skyferry deploy stepfunctions --check` runs, as locked
install-dev: $(UV) $(CHROMIUM) $(NPM) $(PGBOUNCER)  ## runtime + test/lint dependencies, as locked
	$(UV) sync --frozen --inexact --quiet --extra dev --compile-bytecode
	npm ci --prefix tools/asl-validator --no-audit --no-fund --silent

# A tool the tests need, from Debian's packages: installed only when missing and the make runs
# as root (CI does); otherwise a line says what to install and what goes without it
define apt_install
	@if [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $(1); \
	else \
		echo "$@ is missing: sudo apt-get install $(1) ($(2))"; \
	fi
endef

# The browser tests drive Debian's Chromium through Playwright, which never downloads a browser
# of its own. Installed only when missing (CI runs as root); elsewhere install it yourself, or
# the browser tests skip.
$(CHROMIUM):
	$(call apt_install,chromium fonts-liberation,browser tests skip without it)

# npm installs the ASL validator the stepfunctions target's checks run; Debian's package when
# missing and the make runs as root (CI does)
$(NPM):
	$(call apt_install,npm,the stepfunctions checks need it)

# pgbouncer: the transaction-pooler test runs skyferry behind it; Debian's package when missing
# and the make runs as root (CI does), otherwise that test skips
$(PGBOUNCER):
	$(call apt_install,pgbouncer,the pooler test skips without it)

run: install  ## serve on http://127.0.0.1:8000 with embedded SQLite + local files
	$(VENV)/bin/skyferry datasets demo --if-missing
	$(VENV)/bin/skyferry serve

test: install-dev  ## the whole suite, in parallel; Postgres tests need 127.0.0.1:5432 (they fail, not skip, under CI=true)
	$(VENV)/bin/python -m compileall -q src
	$(VENV)/bin/pytest

lint: install-dev
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/mypy

check: lint test

# bench/http_submit.py drives the server with wrk, and bench/peers.py's Celery peers need
# a Redis server on 127.0.0.1:6379: Debian's packages, installed only when missing (as root)
bench-tools:
	@if ! command -v wrk >/dev/null || ! command -v redis-server >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
				--no-install-recommends wrk redis-server; \
		else \
			echo "wrk or redis-server is missing: sudo apt-get install wrk redis-server"; \
		fi; \
	fi

bench: install-dev bench-tools  ## every benchmark; results in bench/results/, table in docs/benchmarks.md
	$(VENV)/bin/python bench/jobs.py
	$(VENV)/bin/python bench/peers.py
	$(VENV)/bin/python bench/http_submit.py
	$(VENV)/bin/python bench/inventory.py
	$(VENV)/bin/python bench/books.py
	$(VENV)/bin/python bench/datasets.py
	$(VENV)/bin/python bench/downloads.py
	$(VENV)/bin/python bench/tours.py
	$(VENV)/bin/python bench/lambda.py

clean:
	rm -rf $(VENV) .skyferry .mypy_cache .ruff_cache .pytest_cache
