#!/usr/bin/env bash
# Load-tests the HTTP service example with wrk: N instances on their own ports, first through
# the library (they share one computation per ttl through Redis), then with --no-library (every
# request computes). Each run starts fresh instances under a key prefix of its own, so it begins
# with the entry expired. Prints a Markdown table: requests/s, latency percentiles, and how many
# times the 300 ms report was computed across all instances.
#
#   scripts/httpservice-bench.sh [instances]          (default 3)
#
# Environment: CONNECTIONS (default 48, spread over the instances), DURATION (10s), WORK_MS
# (300), TTL_MS (5000), HTTPSERVICE (the program; by default built into build/demo as
# scripts/demo.sh does). Uses $REDIS_URL when it is set; otherwise starts a private
# redis-server (scripts/with-redis.sh) and stops it again on exit.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

if [[ -z ${REDIS_URL:-} ]]; then
    exec bash "$repo/scripts/with-redis.sh" bash "${BASH_SOURCE[0]}" "$@"
fi

instances=${1:-3}
connections=${CONNECTIONS:-48}
duration=${DURATION:-10s}
work_ms=${WORK_MS:-300}
ttl_ms=${TTL_MS:-5000}

if [[ -z ${HTTPSERVICE:-} ]]; then
    bash "$repo/scripts/install-deps.sh"
    build="$repo/build/demo"
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
        -DDISTRIBUTEDPROMISE_BUILD_TESTING=OFF -DDISTRIBUTEDPROMISE_BUILD_BENCHMARKS=OFF >/dev/null
    cmake --build "$build" --parallel "$(nproc)" --target httpservice
    HTTPSERVICE="$build/examples/httpservice/httpservice"
fi
for tool in wrk curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "httpservice-bench.sh: error: $tool is not on PATH (run scripts/install-deps.sh)" >&2
        exit 1
    fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/dp-httpservice-bench.XXXXXX")
pids=()
stop_instances() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=()
}
# shellcheck disable=SC2317 # invoked through trap
cleanup() {
    stop_instances
    rm -rf "$dir"
}
trap cleanup EXIT

# Starts $instances instances with the given extra arguments; fills ports.
start_instances() {
    local i port prefix="httpservice-bench-$$-$RANDOM"
    ports=()
    for ((i = 0; i < instances; ++i)); do
        "$HTTPSERVICE" --port 0 --work-ms "$work_ms" --ttl-ms "$ttl_ms" --prefix "$prefix" "$@" \
            >"$dir/instance$i.log" 2>&1 &
        pids+=($!)
    done
    for ((i = 0; i < instances; ++i)); do
        port=
        for _ in $(seq 100); do
            port=$(sed -n 's|^httpservice: listening on http://127.0.0.1:\([0-9]*\).*|\1|p' \
                "$dir/instance$i.log")
            [[ -n $port ]] && break
            sleep 0.1
        done
        if [[ -z $port ]]; then
            echo "httpservice-bench.sh: instance $i did not start:" >&2
            cat "$dir/instance$i.log" >&2
            exit 1
        fi
        ports+=("$port")
    done
}

# Sums one number field of every instance's /stats.
sum_stats() {
    local field=$1 port stats total=0
    for port in "${ports[@]}"; do
        stats=$(curl -sS --fail --max-time 5 "http://127.0.0.1:$port/stats")
        total=$((total + $(sed -n "s/.*\"$field\": *\\([0-9]*\\).*/\\1/p" <<<"$stats")))
    done
    echo "$total"
}

# One wrk thread per instance: each thread's connections go to its own instance.
write_wrk_script() {
    {
        echo "local ports = { $(IFS=,; echo "${ports[*]}") }"
        echo 'local next = 0'
        echo 'function setup(thread)'
        echo '    next = next + 1'
        echo '    thread.addr = wrk.lookup("127.0.0.1", tostring(ports[(next - 1) % #ports + 1]))[1]'
        echo 'end'
    } >"$dir/spread.lua"
}

# Runs one measurement; prints one table row.
run() {
    local label=$1 out rps p50 p90 p99 errors requests executions
    shift
    start_instances "$@"
    write_wrk_script
    out=$(wrk -t "$instances" -c "$connections" -d "$duration" --timeout 15s --latency \
        -s "$dir/spread.lua" "http://127.0.0.1:${ports[0]}/report?year=2026")
    echo "$out" >"$dir/wrk-$label.txt"
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p90=$(awk '$1 == "90%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ { printf "%s%s", sep, $0; sep = "; " }' <<<"$out")
    requests=$(sum_stats requests)
    executions=$(sum_stats executions)
    stop_instances
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$rps" "$p50" "$p90" "$p99" \
        "$requests" "$executions"
    if [[ -n $errors ]]; then
        echo "httpservice-bench.sh: $label: $errors" >&2
    fi
}

echo "$instances instances, wrk: $connections connections for $duration, work ${work_ms} ms," \
    "ttl ${ttl_ms} ms, $(nproc) cores"
echo
echo '| mode | requests/s | p50 | p90 | p99 | requests | report computed |'
echo '|---|---|---|---|---|---|---|'
run "library"
run "--no-library" --no-library
