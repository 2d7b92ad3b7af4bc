#!/usr/bin/env bash
# Builds the benchmarks (Release, build/bench) and runs them against one private redis-server on
# a free loopback port in a temporary directory, stopped again on exit:
#
#   bench_redisclient  the library's Redis connection against raw hiredis
#   bench_library      the library as its users call it against raw hiredis, with the targets
#                      of DESIGN.md (throughput, latency, consumer styles, stampede, Redis
#                      commands, memory); the consumer styles (then(), then(context)) get a
#                      table of their own with library/raw and library/ceiling
#   bench_freshness    4 processes x 50 callers on an expired, a stale and a late entry (work
#                      1 s): executions and how long callers waited (not in --json)
#
# The Node original is not run: it is not installed on this machine; bench_library compares
# with the figures issue 16 measured for it (marked Node*).
#
#   scripts/bench.sh                     # the tables (about two minutes)
#   scripts/bench.sh --json              # one JSON object: {"bench_redisclient":..,"bench_library":..}
#   scripts/bench.sh --runs 5            # --json and --runs go to both benchmarks;
#   scripts/bench.sh --hit-calls 200000  # any other option goes to bench_library (see --help)
#
# Installs missing Debian packages first (scripts/install-deps.sh). Close other busy programs;
# the numbers are only comparable on the same machine. The exit code is non-zero when a
# benchmark failed (errors, not missed targets: bench_library prints MET / NOT MET per target).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=$repo/build/bench

if [[ ${1:-} != --inside-redis ]]; then
    case ${1:-} in
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    esac
    bash "$repo/scripts/install-deps.sh"
    for tool in redis-server redis-cli cmake ninja; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "bench.sh: error: $tool is not on PATH (scripts/install-deps.sh installs it)" >&2
            exit 1
        fi
    done

    echo "bench.sh: building bench_redisclient, bench_library and bench_freshness in $build (Release)" >&2
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DDISTRIBUTEDPROMISE_BUILD_TESTING=ON -DDISTRIBUTEDPROMISE_BUILD_BENCHMARKS=ON \
        -DDISTRIBUTEDPROMISE_BUILD_EXAMPLES=OFF -DDISTRIBUTEDPROMISE_SANITIZERS=OFF >/dev/null
    cmake --build "$build" --parallel "$(nproc)" --target bench_redisclient bench_library bench_freshness \
        >/dev/null

    # Always a private server: a shared one would measure someone else's load too.
    unset REDIS_URL
    exec bash "$repo/scripts/with-redis.sh" bash "${BASH_SOURCE[0]}" --inside-redis "$@"
fi
shift
url=$REDIS_URL

json=0
common_args=()
library_args=()
while (($#)); do
    case $1 in
    --json)
        json=1
        common_args+=("$1")
        ;;
    --runs)
        if (($# < 2)); then
            echo "bench.sh: error: --runs needs a value" >&2
            exit 2
        fi
        common_args+=("$1" "$2")
        shift
        ;;
    --runs=*) common_args+=("$1") ;;
    -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) library_args+=("$1") ;;
    esac
    shift
done

status=0
run() { # name, arguments...: prints the benchmark's output; returns its exit code
    local name=$1
    shift
    echo "bench.sh: running $name" >&2
    "$build/tests/bench/$name" "$url" "$@" || {
        local rc=$?
        echo "bench.sh: $name failed (exit code $rc)" >&2
        return "$rc"
    }
}

if ((json)); then
    redisclient_json=$(run bench_redisclient ${common_args[@]+"${common_args[@]}"}) || status=1
    library_json=$(run bench_library ${common_args[@]+"${common_args[@]}"} \
        ${library_args[@]+"${library_args[@]}"}) || status=1
    printf '{"bench_redisclient":%s,"bench_library":%s}\n' \
        "${redisclient_json:-null}" "${library_json:-null}"
else
    run bench_redisclient ${common_args[@]+"${common_args[@]}"} || status=1
    echo
    run bench_library ${common_args[@]+"${common_args[@]}"} \
        ${library_args[@]+"${library_args[@]}"} || status=1
    echo
    run bench_freshness || status=1
fi
exit "$status"
