#!/usr/bin/env bash
# The start command: ./deploy/start.sh [aicmp serve args]
# Creates/updates .venv like deploy/test.sh, then runs the server in the foreground
# (`aicmp serve` upgrades the database schema and seeds an empty database itself, then prints
# the API's URL, the API docs' URL and the demo users with their roles before serving).
# It listens on 127.0.0.1:8080 (this machine only): `./deploy/start.sh --host 0.0.0.0` for others.
set -euo pipefail

# shellcheck source=deploy/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$AICMP_ROOT"

aicmp_ensure_venv
aicmp_ensure_node || true  # without node the API still serves; /console/ then says how to build it
aicmp_build_console        # the web console at /console/, rebuilt when its sources changed
exec "$AICMP_VENV/bin/aicmp" serve "$@"
