#!/usr/bin/env bash
# Builds the library and runs the stampede demo against Redis.
#
#   scripts/demo.sh [demo arguments...]
#
# Uses $REDIS_URL when it is set; otherwise starts a private redis-server on a free loopback
# port in a temporary directory (no persistence) and stops it again on exit, Ctrl-C included.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build="$repo/build/demo"
# The demo program and its fixed arguments; the script's own arguments are appended.
DEMO_CMD=("$build/examples/stampede/stampede-demo")

bash "$repo/scripts/install-deps.sh"

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DDISTRIBUTEDPROMISE_BUILD_TESTING=OFF -DDISTRIBUTEDPROMISE_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build" --parallel "$(nproc)"

if [[ ! -x ${DEMO_CMD[0]} ]]; then
    echo "demo.sh: error: ${DEMO_CMD[0]} was not built (are the examples enabled?)" >&2
    exit 1
fi

redis_pid=
redis_dir=
# shellcheck disable=SC2317 # invoked through trap
cleanup() {
    if [[ -n $redis_pid ]]; then
        kill -TERM "$redis_pid" 2>/dev/null || true
        wait "$redis_pid" 2>/dev/null || true
        redis_pid=
    fi
    if [[ -n $redis_dir ]]; then
        rm -rf "$redis_dir"
        redis_dir=
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Starts redis-server on $1 in $redis_dir and waits (about 10 s) until it answers PING.
start_redis() {
    local port=$1 reply
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$redis_dir" --daemonize no --logfile "$redis_dir/redis.log" &
    redis_pid=$!
    for _ in $(seq 100); do
        if ! kill -0 "$redis_pid" 2>/dev/null; then
            wait "$redis_pid" 2>/dev/null || true
            redis_pid=
            return 1
        fi
        reply=$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true)
        [[ $reply == PONG ]] && return 0
        sleep 0.1
    done
    return 1
}

if [[ -z ${REDIS_URL:-} ]]; then
    for tool in redis-server redis-cli python3; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            echo "demo.sh: error: $tool is not on PATH (run scripts/install-deps.sh)" >&2
            exit 1
        fi
    done
    redis_dir=$(mktemp -d "${TMPDIR:-/tmp}/dp-demo-redis.XXXXXX")
    started=0
    for _ in 1 2 3; do # another process may take the port before redis binds it
        port=$(free_port)
        if start_redis "$port"; then
            started=1
            break
        fi
        if [[ -n $redis_pid ]]; then # alive but not answering: give up
            break
        fi
    done
    if ((!started)); then
        echo "demo.sh: error: could not start a private redis-server (log follows)" >&2
        tail -n 20 "$redis_dir/redis.log" >&2 2>/dev/null || true
        exit 1
    fi
    export REDIS_URL="redis://127.0.0.1:$port"
    echo "demo.sh: private redis-server (pid $redis_pid) at $REDIS_URL" >&2
fi

status=0
"${DEMO_CMD[@]}" "$@" || status=$?
exit "$status"
