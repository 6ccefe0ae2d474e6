#!/usr/bin/env bash
# Build the web console into console/dist (served by `aicmp serve` at /console/).
#   console/build.sh             install the pinned packages if needed, then build
#   console/build.sh --if-stale  build only when dist is missing or older than a source
# Needs node and npm (deploy/lib.sh's aicmp_ensure_node installs Debian's). Packages come from
# package-lock.json with `npm ci --ignore-scripts` (no install scripts run: a form tool's
# dependency would phone home); esbuild's platform binary is an optional dependency, no script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

log() { printf '[console] %s\n' "$*" >&2; }

sources_newer_than() {  # any source file newer than $1?
    [ -n "$(find src package.json package-lock.json build.mjs build.sh -newer "$1" -print -quit 2>/dev/null)" ]
}

if [ "${1:-}" = "--if-stale" ] && [ -f dist/index.html ] && ! sources_newer_than dist/index.html; then
    exit 0
fi
command -v node >/dev/null && command -v npm >/dev/null || { log "node and npm are needed to build the console"; exit 1; }
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci --ignore-scripts"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error </dev/null
fi
log "building console/dist"
node build.mjs
