#!/usr/bin/env bash
# Run the test suite against a real PostgreSQL server; `make test` calls this.
#
#   scripts/test.sh [PYTEST_ARGS...]
#
# Starts a throwaway server with scripts/postgres.sh unless SHIPYARD_TEST_POSTGRES_URL
# already points at one, installs nginx (scripts/nginx.sh install; the multi-replica test
# starts its own load balancer) and chromium (scripts/browser.sh; the console's browser tests)
# when they are missing, runs pytest with coverage, and stops the
# server again, also when pytest fails or is interrupted. Exits with pytest's status.
#
# Environment: VENV (default .venv) is the virtualenv holding pytest and the package.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
readonly VENV="${VENV:-.venv}"
readonly PG=scripts/postgres.sh

[[ -x "$VENV/bin/pytest" ]] || {
    echo "test.sh: error: $VENV/bin/pytest not found; run 'make test' or: pip install -e '.[dev]'" >&2
    exit 1
}

# A cluster that was already running (a developer's `scripts/postgres.sh start`) is theirs
# to stop; only one started here is stopped here.
started_here=0
bash "$PG" status >/dev/null 2>&1 || started_here=1

stop_postgres() {
    if ((started_here)); then
        bash "$PG" stop || echo "test.sh: warning: could not stop the test PostgreSQL server" >&2
    fi
}
# Installed before `start` so that a half-started cluster is cleaned up too.
trap stop_postgres EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Without nginx the multi-replica test skips and says why; everything else still runs.
bash scripts/nginx.sh install || echo "test.sh: warning: nginx is missing; tests/scale/test_replicas.py will skip" >&2
# The console's browser tests drive Debian's chromium (never a downloaded browser).
bash scripts/browser.sh >/dev/null || echo "test.sh: warning: chromium is missing; tests/console browser tests will skip" >&2

url=$(bash "$PG" start)
echo "test.sh: SHIPYARD_TEST_POSTGRES_URL=$url" >&2

status=0
SHIPYARD_TEST_POSTGRES_URL="$url" "$VENV/bin/pytest" --cov=shipyard --cov-report=term "$@" \
    || status=$?
exit "$status"
