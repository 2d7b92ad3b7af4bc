#!/usr/bin/env bash
# Smoke test of the HTTP service example (run by ctest through scripts/with-redis.sh):
# starts two instances against $REDIS_URL, sends one /report request to each at the same time,
# and checks that both got the same report and that it was computed once across the two.
#
#   REDIS_URL=redis://... smoke.sh path/to/httpservice
set -euo pipefail

service=${1:?usage: smoke.sh path/to/httpservice}
: "${REDIS_URL:?smoke.sh: REDIS_URL must be set (run it through scripts/with-redis.sh)}"

dir=$(mktemp -d "${TMPDIR:-/tmp}/dp-httpservice-smoke.XXXXXX")
pids=()
# shellcheck disable=SC2317 # invoked through trap
cleanup() {
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$dir"
}
trap cleanup EXIT

fail() {
    echo "smoke.sh: FAIL: $*" >&2
    for log in "$dir"/*.log; do
        echo "--- $log" >&2
        cat "$log" >&2
    done
    exit 1
}

# A prefix of its own, so that no earlier run's cached report answers this one.
prefix="httpservice-smoke-$$-$RANDOM"
ports=()
for i in 1 2; do
    "$service" --port 0 --work-ms 300 --prefix "$prefix" >"$dir/$i.log" 2>&1 &
    pids+=($!)
done
for i in 1 2; do
    port=
    for _ in $(seq 100); do # up to 10 s for the instance to listen
        port=$(sed -n 's|^httpservice: listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$dir/$i.log")
        [[ -n $port ]] && break
        kill -0 "${pids[i - 1]}" 2>/dev/null || fail "instance $i exited"
        sleep 0.1
    done
    [[ -n $port ]] || fail "instance $i did not start listening"
    ports+=("$port")
done

# One request to each instance, at the same time.
for i in 1 2; do
    curl -sS --fail --max-time 20 "http://127.0.0.1:${ports[i - 1]}/report?year=2026" \
        >"$dir/report$i.json" &
done
wait -n || fail "a /report request failed"
wait -n || fail "a /report request failed"

cmp -s "$dir/report1.json" "$dir/report2.json" \
    || fail "the instances answered differently: $(cat "$dir/report1.json") / $(cat "$dir/report2.json")"
executions=0
for i in 1 2; do
    stats=$(curl -sS --fail --max-time 5 "http://127.0.0.1:${ports[i - 1]}/stats") \
        || fail "/stats of instance $i failed"
    count=$(sed -n 's/.*"executions": *\([0-9]*\).*/\1/p' <<<"$stats")
    [[ -n $count ]] || fail "no executions count in /stats of instance $i: $stats"
    executions=$((executions + count))
done
((executions == 1)) || fail "the report was computed $executions times, expected once"
echo "smoke.sh: 2 instances, 2 requests, the report computed once: $(cat "$dir/report1.json")"
