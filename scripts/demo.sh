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

exec bash "$repo/scripts/with-redis.sh" "${DEMO_CMD[@]}" "$@"
