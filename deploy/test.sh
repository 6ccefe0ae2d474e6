#!/usr/bin/env bash
# The test command: ./deploy/test.sh [pytest args]     (no args: the whole suite, quietly)
#   1. creates/updates .venv (pip install -e '.[test]' when pyproject.toml changed)
#   2. as root with apt-get: installs PostgreSQL and RabbitMQ if missing (tests start their own),
#      and Node + Chromium for the web console's tests; builds the connector tests' vCenter
#      simulator and kube-apiserver once into $AICMP_CACHE (AICMP_NO_CLOUD_BUILD=1 skips that)
#   3. ruff check .            (findings fail the run)
#   4. python -m pytest ARGS   (exit 5, "no tests collected", fails only when no args were given)
# Server fixtures: tests/conftest.py (AICMP_TEST_POSTGRES_URL, AICMP_TEST_BROKER_URL,
# AICMP_REQUIRE_SERVERS=1 to fail instead of skipping when a server is not installed).
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AICMP_ROOT"

aicmp_ensure_venv
aicmp_ensure_server_pkgs
aicmp_ensure_node || true      # the console's unit tests and build (tests/console builds it when stale)
aicmp_ensure_chromium || true  # the console's browser tests
if [ -z "${AICMP_NO_CLOUD_BUILD:-}" ]; then
    aicmp_ensure_vcsim           # connector tests: vSphere (seconds cold, nothing warm)
    aicmp_ensure_kube_apiserver  # connector tests: Kubernetes (minutes cold, nothing warm)
fi

aicmp_log "ruff check ."
"$AICMP_VENV/bin/ruff" check --quiet . || aicmp_die "ruff found problems (ruff check --fix . fixes many)"

if [ "$#" -eq 0 ]; then
    set -- -q
    explicit_args=""
else
    explicit_args=1
fi
aicmp_log "python -m pytest $*"
rc=0
"$AICMP_VENV/bin/python" -m pytest "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    if [ -n "$explicit_args" ]; then
        aicmp_log "no tests collected for the given arguments: not a failure"
        exit 0
    fi
    aicmp_log "ERROR: the whole suite collected no tests"
fi
exit "$rc"
