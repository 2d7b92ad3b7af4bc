#!/usr/bin/env bash
# Builds the benchmarks (Release, build/bench) and runs bench_redisclient against a private
# redis-server on a free loopback port in a temporary directory, stopped again on exit.
#
#   scripts/bench.sh                 # the table
#   scripts/bench.sh --json          # one JSON object
#   scripts/bench.sh --runs 5        # any other bench_redisclient option (see --help)
#
# Close other busy programs first; the numbers are only comparable on the same machine.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=$repo/build/bench

for tool in redis-server redis-cli cmake ninja; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "bench.sh: error: $tool is not on PATH (scripts/install-deps.sh installs it)" >&2
        exit 1
    fi
done

echo "bench.sh: building bench_redisclient in $build (Release)" >&2
cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DDISTRIBUTEDPROMISE_BUILD_TESTING=ON -DDISTRIBUTEDPROMISE_BUILD_BENCHMARKS=ON \
    -DDISTRIBUTEDPROMISE_BUILD_EXAMPLES=OFF -DDISTRIBUTEDPROMISE_SANITIZERS=OFF >/dev/null
cmake --build "$build" --target bench_redisclient >/dev/null
bench=$build/tests/bench/bench_redisclient

redis_pid=
redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/dpbench-redis-XXXXXX")
# shellcheck disable=SC2317 # invoked through trap
cleanup() {
    if [[ -n $redis_pid ]]; then
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
    fi
    rm -rf "$redis_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Tries a few random ports: redis-server exits at once when the port is taken.
port=
for _ in 1 2 3 4 5 6 7 8 9 10; do
    candidate=$((20000 + RANDOM % 40000))
    redis-server --port "$candidate" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$redis_dir" --daemonize no --logfile "$redis_dir/redis.log" &
    redis_pid=$!
    for _ in $(seq 100); do
        if ! kill -0 "$redis_pid" 2>/dev/null; then
            wait "$redis_pid" 2>/dev/null || true
            redis_pid=
            break
        fi
        if [[ $(redis-cli -h 127.0.0.1 -p "$candidate" ping 2>/dev/null || true) == PONG ]]; then
            port=$candidate
            break
        fi
        sleep 0.1
    done
    [[ -n $port ]] && break
    if [[ -n $redis_pid ]]; then # running but not answering: give up on it
        kill -KILL "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=
    fi
done
if [[ -z $port ]]; then
    echo "bench.sh: error: could not start redis-server; its log:" >&2
    cat "$redis_dir/redis.log" >&2 || true
    exit 1
fi

echo "bench.sh: redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')" \
    "on 127.0.0.1:$port (pid $redis_pid)" >&2
"$bench" "redis://127.0.0.1:$port" "$@"
