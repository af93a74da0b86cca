# The front door. Every target creates the environment it needs (uv is installed with pip if missing).
export UV_PYTHON_DOWNLOADS := never
# bytecode compiled once at install: with PYTHONDONTWRITEBYTECODE set (as on our machines) every command
# otherwise recompiled ~1,500 modules (about 4 s of a 6 s `driftgate status`)
export UV_COMPILE_BYTECODE := 1
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_ANALYTICS_ENABLED := false
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")

.PHONY: postgres env demo up test test-fast lint browser audit promtool

$(UV):
	python3 -m pip install --user --quiet uv

env: $(UV)
	$(UV) sync --frozen --all-extras

demo: env
	$(UV) run --frozen driftgate demo --fresh

up: env
	$(UV) run --frozen driftgate up

# Tiers (docs/development.md#test-tiers). `make test`: every test, on JOBS xdist workers (tests that share a
# module's server stay on one: --dist loadgroup); JOBS=0 runs them in this process, one after another.
JOBS ?= 2
test: env browser postgres promtool
	$(UV) run --frozen pytest -n $(JOBS) --dist loadgroup --durations=25

# The fast tier: unit, contract, hostile-request and quick command tests, the service in-process; nothing
# that starts the Prefect test server, a training flow, Dask, PostgreSQL, Chromium or a stack (-m "not slow")
test-fast: env promtool
	$(UV) run --frozen pytest -m "not slow" -n $(JOBS) --durations=25

# Debian's Chromium for the browser tests (tests/browser): from the distribution's packages, never a download by Playwright
browser:
	@test -x /usr/bin/chromium || { $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

# Debian's Prometheus package for promtool (tests/unit/test_alert_rules.py: promtool check rules / test rules)
promtool:
	@command -v promtool >/dev/null || { \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; }

# Debian's PostgreSQL server for tests/integration/test_postgres.py (a throwaway cluster on 127.0.0.1)
postgres:
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

lint: env audit
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen python scripts/typecheck.py

# Known vulnerabilities of the locked dependencies (uv audit asks OSV); skipped with one line where OSV is unreachable
OSV_HOST ?= api.osv.dev
audit: $(UV)
	@if python3 -c "import socket; socket.create_connection(('$(OSV_HOST)', 443), 5).close()" 2>/dev/null; then \
	  $(UV) audit --frozen; \
	else echo "audit: skipped, vulnerability data ($(OSV_HOST)) is not reachable from this machine"; fi
