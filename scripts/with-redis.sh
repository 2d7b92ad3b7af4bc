#!/usr/bin/env bash
# Runs a command with REDIS_URL pointing at a Redis server.
#
#   scripts/with-redis.sh COMMAND [ARGS...]
#
# Uses $REDIS_URL when it is set; otherwise starts a private redis-server on a free loopback
# port in a temporary directory (no persistence), exports REDIS_URL for the command, and stops
# the server again on exit, Ctrl-C included. Exits with the command's status.
set -euo pipefail

if (($# == 0)); then
    echo "usage: with-redis.sh COMMAND [ARGS...]" >&2
    exit 2
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
            echo "with-redis.sh: error: $tool is not on PATH (run scripts/install-deps.sh)" >&2
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
        echo "with-redis.sh: error: could not start a private redis-server (log follows)" >&2
        tail -n 20 "$redis_dir/redis.log" >&2 2>/dev/null || true
        exit 1
    fi
    export REDIS_URL="redis://127.0.0.1:$port"
    echo "with-redis.sh: private redis-server (pid $redis_pid) at $REDIS_URL" >&2
fi

status=0
"$@" || status=$?
exit "$status"
