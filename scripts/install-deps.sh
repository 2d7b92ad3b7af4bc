#!/usr/bin/env bash
# Installs the Debian 12 packages needed to build, test and run the demo of DistributedPromise.
# Installs only what is missing; when everything is present it prints nothing and touches nothing.
#
# The tests and scripts/demo.sh start their own private redis-server on a free loopback port
# (or a unix socket) in a temporary directory; they never use the system redis service. So
# that installing the redis-server package doesn't start that service (on port 6379) as a side
# effect, the install runs with a policy-rc.d that denies service starts, unless the system
# already has one. Running services are never started or stopped by this script.
set -euo pipefail

packages=(
    cmake
    ninja-build
    g++
    pkg-config
    git
    qt6-base-dev
    qt6-declarative-dev
    libhiredis-dev
    redis-server
    redis-tools
    libgl-dev
    qml6-module-qttest
    qml6-module-qtquick
    qml6-module-qtquick-window
    qml6-module-qtqml-workerscript
    qml6-module-qtqml
    qmake6
    make
    dpkg-dev
    faketime
    qt6-httpserver-dev
    # Debian 12's Qt6HttpServer CMake package needs Qt6WebSockets but the package does not
    # depend on it.
    qt6-websockets-dev
    curl
    wrk
)

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null || true)
    if [[ $status != *"ok installed"* ]]; then
        missing+=("$package")
    fi
done
((${#missing[@]} == 0)) && exit 0

sudo=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "install-deps.sh: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
    sudo=(sudo)
fi

echo "install-deps.sh: installing ${missing[*]}" >&2

policy=/usr/sbin/policy-rc.d
own_policy=0
log=$(mktemp)
# shellcheck disable=SC2317 # invoked through trap
finish() {
    if ((own_policy)); then
        ${sudo[@]+"${sudo[@]}"} rm -f "$policy"
    fi
    rm -f "$log"
}
trap finish EXIT
if [[ ! -e $policy ]]; then
    # exit 101: "action forbidden by policy" for invoke-rc.d and deb-systemd-invoke.
    printf '#!/bin/sh\nexit 101\n' | ${sudo[@]+"${sudo[@]}"} tee "$policy" >/dev/null
    ${sudo[@]+"${sudo[@]}"} chmod 755 "$policy"
    own_policy=1
fi

# Quiet: apt's output is shown only when something fails.
run_quietly() {
    if ! "$@" >"$log" 2>&1; then
        echo "install-deps.sh: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}
run_quietly ${sudo[@]+"${sudo[@]}"} apt-get update -qq
run_quietly ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
