#!/usr/bin/env bash
# tests/run.sh - runs the test tiers and adds up their results.
#
#   tests/run.sh unit          C unit tests (build/tests/unit/*/test_*)
#   tests/run.sh integration   tests/integration/*  and tests/e2e/* against the
#                              real Kafka broker and PostgreSQL (started here
#                              unless KAFKA_BOOTSTRAP / DATABASE_URL are set)
#   tests/run.sh deploy        tests/deploy/run.sh (helm, terraform, ops scripts)
#   tests/run.sh all           all of the above
#
# Every test program prints "N passed, N failed" as its last such line; a
# program that exits non-zero without one counts as one failure. The run
# ends with the grand total on one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. tests/lib/stack.sh

tier=${1:-all}
total_pass=0
total_fail=0
failed_names=()
logdir=${OBS_TEST_LOGS:-.run/test-logs}
mkdir -p "$logdir"

# run_one NAME CMD...: run a test program, show its output, count its result.
run_one() {
    local name=$1
    shift
    local log="$logdir/$(echo "$name" | tr '/ ' '__').log"
    echo "=== $name"
    local start=$SECONDS
    "$@" 2>&1 | tee "$log" | grep -E '^(FAIL|not ok)|passed, [0-9]+ failed'
    local rc=${PIPESTATUS[0]}  # read before any other command resets it
    local summary
    summary=$(grep -E '^[A-Za-z]*:? ?[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    local p=0 f=0
    if [ -n "$summary" ]; then
        p=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
        f=$(echo "$summary" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "FAIL: $name exited with status $rc without reporting a failure (log: $log)"
    fi
    total_pass=$((total_pass + p))
    total_fail=$((total_fail + f))
    [ "$f" -gt 0 ] && failed_names+=("$name")
    echo "    ($p passed, $f failed, $((SECONDS - start)) s)"
}

run_unit() {
    local bin
    for bin in "${OBS_BUILD}"/tests/unit/*/test_*; do
        [ -x "$bin" ] || continue
        if [ "${OBS_VALGRIND:-0}" = 1 ]; then
            run_one "unit/${bin#*/tests/unit/}" valgrind -q --error-exitcode=99 --leak-check=full --suppressions=tests/valgrind.supp \
                --errors-for-leak-kinds=definite "$bin"
        else
            run_one "unit/${bin#*/tests/unit/}" "$bin"
        fi
    done
    # The fixtures' independent ground truth must still equal ccusage's figures.
    run_one "unit/fixtures-ground-truth" python3 tests/ccusage/ground_truth.py
}

run_integration() {
    if ! obs_stack_up; then
        echo "FAIL: could not start Kafka and PostgreSQL (see messages above)"
        total_fail=$((total_fail + 1))
        failed_names+=("stack")
        return
    fi
    trap obs_stack_down EXIT
    local t
    for t in tests/integration/*/test_* tests/integration/test_* tests/e2e/test_*; do
        [ -f "$t" ] || continue
        case "$t" in
            *.py) run_one "${t#tests/}" python3 "$t" ;;
            *.sh) run_one "${t#tests/}" bash "$t" ;;
            *) [ -x "$t" ] && run_one "${t#tests/}" "$t" ;;
        esac
    done
}

run_deploy() {
    [ -f tests/deploy/run.sh ] && run_one deploy bash tests/deploy/run.sh
}

case "$tier" in
    unit) run_unit ;;
    integration) run_integration ;;
    deploy) run_deploy ;;
    all) run_unit; run_integration; run_deploy ;;
    *) echo "usage: tests/run.sh unit|integration|deploy|all" >&2; exit 2 ;;
esac

if [ ${#failed_names[@]} -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
