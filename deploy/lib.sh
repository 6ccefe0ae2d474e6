# shellcheck shell=bash
# Shared by deploy/test.sh, deploy/start.sh and .ci/run (source it; it defines functions only):
#   aicmp_ensure_venv          .venv exists and has `pip install -e '.[test]'` of the current pyproject.toml
#   aicmp_ensure_server_pkgs   PostgreSQL and RabbitMQ binaries are installed (as root, via apt-get)
# Environment: AICMP_PYTHON  interpreter that creates the venv (default: python3)

AICMP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AICMP_VENV="$AICMP_ROOT/.venv"
# Written after a successful install; holds the sha256 of the pyproject.toml that was installed.
AICMP_STAMP="$AICMP_VENV/.aicmp-installed-pyproject.sha256"

aicmp_log() { printf '[aicmp] %s\n' "$*" >&2; }
aicmp_die() { aicmp_log "ERROR: $*"; exit 1; }

# Create .venv if missing (or broken, e.g. its interpreter was removed), then reinstall the
# project with its test extras only when pyproject.toml changed since the last install.
aicmp_ensure_venv() {
    local python="${AICMP_PYTHON:-python3}" want have=""
    if ! "$AICMP_VENV/bin/python" -c '' >/dev/null 2>&1; then
        command -v "$python" >/dev/null || aicmp_die "$python not found (set AICMP_PYTHON)"
        aicmp_log "creating $AICMP_VENV with $("$python" --version 2>&1)"
        "$python" -m venv --clear "$AICMP_VENV" || aicmp_die "could not create $AICMP_VENV"
    fi
    want="$(sha256sum "$AICMP_ROOT/pyproject.toml" | cut -d' ' -f1)"
    [ -f "$AICMP_STAMP" ] && have="$(cat "$AICMP_STAMP")"
    if [ "$want" != "$have" ]; then
        aicmp_log "pyproject.toml changed since the last install: pip install -e '.[test]' (about a minute when fresh)"
        local t0=$SECONDS
        (cd "$AICMP_ROOT" && "$AICMP_VENV/bin/python" -m pip install -qq -e '.[test]' </dev/null) \
            || aicmp_die "pip install -e '.[test]' failed"
        printf '%s\n' "$want" >"$AICMP_STAMP"
        aicmp_log "installed in $((SECONDS - t0)) s"
    fi
}

# The test servers (tests/servers.py looks for the same binaries), and the tools the README
# walkthrough test drives the API with.
aicmp_missing_server_pkgs() {
    if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && ! command -v initdb >/dev/null; then
        echo postgresql
    fi
    if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
        echo rabbitmq-server
    fi
    command -v curl >/dev/null || echo curl
    command -v jq >/dev/null || echo jq
}

# What starts at boot: "systemd UNIT" for each unit in a .wants folder, "sysv NAME" for each
# runlevel 2-5 start link.
aicmp_boot_entries() {
    local f
    for f in /etc/systemd/system/*.wants/*; do
        [ -L "$f" ] && printf 'systemd %s\n' "${f##*/}"
    done
    for f in /etc/rc[2345].d/S*; do
        [ -e "$f" ] && printf 'sysv %s\n' "$(basename "$f" | sed 's/^S[0-9]*//')"
    done
    return 0
}

# Undo what an install set to start at boot (given "before" as aicmp_boot_entries printed it):
# the packages' services are for the tests to start privately, never for every boot.
aicmp_disable_new_boot_entries() {
    local before="$1" kind name
    while read -r kind name; do
        [ -n "$name" ] || continue
        case "$kind" in
            systemd)
                if command -v deb-systemd-helper >/dev/null; then
                    deb-systemd-helper disable "$name" >/dev/null 2>&1 || true
                fi
                if command -v systemctl >/dev/null; then
                    systemctl disable --quiet "$name" >/dev/null 2>&1 || true
                fi ;;
            sysv)
                command -v update-rc.d >/dev/null && update-rc.d "$name" disable >/dev/null 2>&1 || true ;;
        esac
        aicmp_log "not starting at boot: $name (enabled by its package)"
    done < <(comm -13 <(printf '%s\n' "$before" | sort -u) <(aicmp_boot_entries | sort -u))
}

# As root with apt-get: install the missing server packages. Otherwise only say what is
# missing (the tests that need them are then skipped, or fail under AICMP_REQUIRE_SERVERS=1).
# The packages' own services are NOT started, nor left to start at boot: the tests start private
# servers on free ports, and a system PostgreSQL/RabbitMQ/epmd would only linger after the run.
aicmp_ensure_server_pkgs() {
    local missing added_policy="" rc=0
    missing="$(aicmp_missing_server_pkgs | tr '\n' ' ')"
    missing="${missing% }"
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        aicmp_log "not installed: $missing (needs root and apt-get); tests needing them will be skipped"
        return 0
    fi
    aicmp_log "installing $missing (apt-get)"
    local t0=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    # Wait for a dpkg lock held by e.g. unattended-upgrades on a freshly booted machine.
    local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
    if [ -z "${AICMP_APT_UPDATED:-}" ]; then
        "${apt[@]}" update </dev/null || aicmp_die "apt-get update failed"
        AICMP_APT_UPDATED=1
    fi
    local boot_before
    boot_before="$(aicmp_boot_entries)"
    # policy-rc.d exit 101 = "do not start services" (honoured by invoke-rc.d and deb-systemd-invoke).
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# added by aicmp deploy/lib.sh during apt-get install\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    # shellcheck disable=SC2086 # $missing is a list of package names
    "${apt[@]}" install -y --no-install-recommends $missing </dev/null || rc=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || aicmp_die "apt-get install $missing failed ($rc)"
    aicmp_disable_new_boot_entries "$boot_before"
    aicmp_log "installed $missing in $((SECONDS - t0)) s"
}
