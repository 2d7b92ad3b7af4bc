#!/usr/bin/env bash
# Builds DistributedPromise with warnings as errors and runs the whole test suite.
#
#   scripts/test.sh                      # build/test, RelWithDebInfo, -Werror, ctest
#   DP_CMAKE_ARGS="-DFOO=ON" scripts/test.sh   # extra configure arguments (split on spaces)
#   DP_SANITIZERS=1 scripts/test.sh      # also build/asan with ASan+UBSan and run ctest there
#
# The tests start their own redis-server processes (tests/support/redisserver.h); a missing
# redis-server is an error, never a skip.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
jobs=$(nproc)
extra_args=()
if [[ -n ${DP_CMAKE_ARGS:-} ]]; then
    read -r -a extra_args <<<"$DP_CMAKE_ARGS"
fi

bash "$repo/scripts/install-deps.sh"

for tool in redis-server redis-cli; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "test.sh: error: $tool is not on PATH after scripts/install-deps.sh;" \
            "the tests need it (Debian packages redis-server and redis-tools)" >&2
        exit 1
    fi
done

# Tests use private servers only; make sure nothing points them at a shared one.
unset REDIS_URL

run_suite() {
    local build=$1
    shift
    echo "test.sh: configuring $build" >&2
    cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DDISTRIBUTEDPROMISE_WERROR=ON "$@" ${extra_args[@]+"${extra_args[@]}"}
    cmake --build "$build" --parallel "$jobs"
    ctest --test-dir "$build" --output-on-failure --no-tests=error --timeout 600 -j"$jobs"
}

run_suite "$repo/build/test"

if [[ ${DP_SANITIZERS:-0} == 1 ]]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    run_suite "$repo/build/asan" -DDISTRIBUTEDPROMISE_SANITIZERS=ON \
        -DDISTRIBUTEDPROMISE_BUILD_EXAMPLES=OFF -DDISTRIBUTEDPROMISE_BUILD_BENCHMARKS=OFF
fi
echo "test.sh: all tests passed" >&2
