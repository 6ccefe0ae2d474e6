# shellcheck shell=bash
# Shared by deploy/test.sh, deploy/start.sh and .ci/run (source it; it defines functions only):
#   aicmp_ensure_venv          .venv exists and has `pip install -e '.[test]'` of the current pyproject.toml
#   aicmp_ensure_server_pkgs   PostgreSQL and RabbitMQ binaries are installed (as root, via apt-get)
#   aicmp_ensure_vcsim, aicmp_ensure_kube_apiserver   connector test stand-ins (see their section)
#   aicmp_ensure_node / aicmp_ensure_chromium / aicmp_build_console   the web console (section at the end)
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

# --------------------------------------------------------------------------------------------
# Provider stand-ins for the connector tests (tests/cloud_servers.py finds what these build):
#   aicmp_ensure_vcsim           govmomi's vCenter simulator, built from deploy/vcsim/main.go
#   aicmp_ensure_kube_apiserver  kube-apiserver and kube-controller-manager from Debian's kubernetes
#                                source package, and etcd
# Each builds once into $AICMP_CACHE and reuses it when present (a warm run adds seconds). As root
# with apt-get the missing build packages are installed; otherwise a missing stand-in is only
# reported (its tests skip, or fail under AICMP_REQUIRE_SERVERS=1).
AICMP_CACHE="${AICMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aicmp}"
export AICMP_CACHE

aicmp_can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; }

# As root with apt-get: install the named packages that are missing, with their services neither
# started nor left to start at boot (as aicmp_ensure_server_pkgs does).
aicmp_apt_install() {
    local pkg missing=() added_policy="" rc=0 boot_before
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    aicmp_can_apt || { aicmp_log "not installed: ${missing[*]} (needs root and apt-get)"; return 1; }
    aicmp_log "installing ${missing[*]} (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    local apt=(apt-get -q -o DPkg::Lock::Timeout=300)
    if [ -z "${AICMP_APT_UPDATED:-}" ]; then
        "${apt[@]}" update </dev/null || aicmp_die "apt-get update failed"
        AICMP_APT_UPDATED=1
    fi
    boot_before="$(aicmp_boot_entries)"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# added by aicmp deploy/lib.sh during apt-get install\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        added_policy=1
    fi
    "${apt[@]}" install -y --no-install-recommends "${missing[@]}" </dev/null || rc=$?
    [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || aicmp_die "apt-get install ${missing[*]} failed ($rc)"
    aicmp_disable_new_boot_entries "$boot_before"
}

# The vcsim binary for the current deploy/vcsim/main.go: $AICMP_CACHE/vcsim/vcsim-<sha256[:16]>
# (tests/cloud_servers.py computes the same name). Build: about 15-30 s cold, 0 s warm.
aicmp_vcsim_path() {
    printf '%s/vcsim/vcsim-%s\n' "$AICMP_CACHE" "$(sha256sum "$AICMP_ROOT/deploy/vcsim/main.go" | cut -c1-16)"
}

aicmp_ensure_vcsim() {
    local out t0=$SECONDS
    out="$(aicmp_vcsim_path)"
    [ -x "$out" ] && return 0
    aicmp_apt_install golang-go golang-github-vmware-govmomi-dev || return 0
    aicmp_log "building vcsim (govmomi simulator, GOPATH mode, offline) into $out"
    mkdir -p "${out%/*}"
    (cd "$AICMP_ROOT/deploy/vcsim" && GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
        GOCACHE="$AICMP_CACHE/go-build" nice -n 10 go build -o "$out.tmp" main.go) \
        || aicmp_die "building vcsim failed"
    mv "$out.tmp" "$out"
    find "${out%/*}" -maxdepth 1 -name 'vcsim-*' ! -name "${out##*/}" -delete  # builds of older main.go
    aicmp_log "built vcsim in $((SECONDS - t0)) s"
}

# kube-apiserver and kube-controller-manager (Debian's kubernetes 1.20 source, vendored, built
# offline) in $AICMP_CACHE/kubernetes/bin, and etcd from Debian's etcd-server. About 5-15 min cold
# on 2 cores (niced: it shares the machine), then reused. The controller manager is what makes a
# Deployment's pods, keeps ResourceQuota usage and collects garbage; no scheduler, no kubelet.
aicmp_kube_apiserver_path() { printf '%s/kubernetes/bin/kube-apiserver\n' "$AICMP_CACHE"; }
aicmp_kube_controller_manager_path() { printf '%s/kubernetes/bin/kube-controller-manager\n' "$AICMP_CACHE"; }

# apt-get source needs a deb-src entry; add one mirroring the deb entries when there is none.
aicmp_ensure_deb_src() {
    local list=/etc/apt/sources.list.d/aicmp-deb-src
    if grep -qsr '^Types:.*deb-src' /etc/apt/sources.list.d/ || grep -qs '^deb-src ' /etc/apt/sources.list; then
        return 0
    fi
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources >"$list.sources"
    else
        sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$list.list"
    fi
    aicmp_log "added a deb-src entry ($list.*) for apt-get source"
    apt-get -q -o DPkg::Lock::Timeout=300 update </dev/null || aicmp_die "apt-get update failed"
    AICMP_APT_UPDATED=1
}

aicmp_ensure_kube_apiserver() {
    local out cm src t0=$SECONDS
    out="$(aicmp_kube_apiserver_path)" cm="$(aicmp_kube_controller_manager_path)"
    aicmp_apt_install etcd-server || return 0
    [ -x "$out" ] && [ -x "$cm" ] && return 0
    aicmp_apt_install golang-go rsync dpkg-dev make || return 0
    aicmp_ensure_deb_src
    src="$AICMP_CACHE/kubernetes/src"
    rm -rf "$src" && mkdir -p "$src"
    aicmp_log "fetching Debian's kubernetes source package into $src"
    (cd "$src" && apt-get -q source kubernetes </dev/null >/dev/null) || aicmp_die "apt-get source kubernetes failed"
    aicmp_log "building kube-apiserver and kube-controller-manager (make, offline; minutes when cold)"
    (cd "$src"/kubernetes-*/ && GOPROXY=off GOFLAGS=-mod=vendor GOCACHE="$AICMP_CACHE/go-build" \
        nice -n 10 make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" </dev/null \
        >"$AICMP_CACHE/kubernetes/build.log" 2>&1) \
        || aicmp_die "building kube-apiserver failed (log: $AICMP_CACHE/kubernetes/build.log)"
    mkdir -p "${out%/*}"
    cp "$src"/kubernetes-*/_output/bin/kube-apiserver "$out.tmp" && mv "$out.tmp" "$out"
    cp "$src"/kubernetes-*/_output/bin/kube-controller-manager "$cm.tmp" && mv "$cm.tmp" "$cm"
    rm -rf "$src"
    aicmp_log "built kube-apiserver and kube-controller-manager in $((SECONDS - t0)) s"
}

# --------------------------------------------------------------------------------------------
# The web console (console/, served by `aicmp serve` at /console/):
#   aicmp_ensure_node      node and npm on PATH, to build it (Debian's nodejs + npm, as root with apt-get)
#   aicmp_ensure_chromium  Debian's Chromium (+ a CJK font for the zh-CN screenshots) for its browser
#                          tests: Playwright drives /usr/bin/chromium, never `playwright install`
#   aicmp_build_console    console/dist built when missing or older than its sources
# Neither package starts a service. Without root the ensure functions only say what is missing
# (return 1): the console is then not built, and its browser tests skip (fail under
# AICMP_REQUIRE_SERVERS=1).
aicmp_console_apt() {
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
        aicmp_log "not installed: $* (needs root and apt-get)"
        return 1
    fi
    aicmp_log "installing $* (apt-get)"
    local t0=$SECONDS apt=(apt-get -q -o DPkg::Lock::Timeout=300)
    export DEBIAN_FRONTEND=noninteractive
    if [ -z "${AICMP_APT_UPDATED:-}" ]; then
        "${apt[@]}" update </dev/null || aicmp_die "apt-get update failed"
        AICMP_APT_UPDATED=1
    fi
    "${apt[@]}" install -y --no-install-recommends "$@" </dev/null || aicmp_die "apt-get install $* failed"
    aicmp_log "installed $* in $((SECONDS - t0)) s"
}

aicmp_ensure_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    aicmp_console_apt nodejs npm
}

aicmp_ensure_chromium() {
    [ -x "${AICMP_CHROMIUM:-/usr/bin/chromium}" ] && return 0
    aicmp_console_apt chromium fonts-wqy-zenhei
}

# `npm ci --ignore-scripts` from console/package-lock.json, then esbuild: console/build.sh --if-stale.
aicmp_build_console() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        aicmp_log "node/npm not found: the web console (/console/) is not built"
        return 0
    fi
    # the API serves without it: a failed build (e.g. no registry) is a warning, /console/ says how to build
    bash "$AICMP_ROOT/console/build.sh" --if-stale \
        || aicmp_log "WARNING: building the web console failed; /console/ answers 503 until console/build.sh succeeds"
}
