#!/usr/bin/env bash
# bench/workers/quick.sh - a short obs-worker throughput probe for iterating:
# a BENCH_BYTES corpus (default 20 MB) generated and published once into
# BENCH_QUICK_DIR (kept between runs), then one worker (or BENCH_WORKERS) on
# a fresh database and consumer group, timed until every line is stored.
# Prints events/s and the worker's log tail. Not written to bench/results.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$BENCH_REPO"
# Progress while workers run: wait_stored (bench/lib.sh); the final count is
# checked once the clock has stopped.
bytes=${BENCH_BYTES:-20000000}
dir=${BENCH_QUICK_DIR:-/var/tmp/obs-bench-quick-$bytes}
# The corpus's topic can be gone (deleted by hand or by a broker reset):
# then the worker would wait for lines that never come; publish it again.
if [ -f "$dir/topic" ] && ! kcat -b "$KAFKA_BOOTSTRAP" -L -t "$(cat "$dir/topic")" 2>/dev/null | grep -q "partition 0"; then
    echo "quick: topic $(cat "$dir/topic") is not on the broker; generating and publishing the corpus again" >&2
    rm -f "$dir/topic"
fi
if [ ! -f "$dir/topic" ]; then
    rm -rf "$dir" && mkdir -p "$dir"
    python3 bench/gen_corpus.py "$dir/projects" --bytes "$bytes" >/dev/null
    find "$dir/projects" -name '*.jsonl' -print0 | xargs -0 cat | wc -l >"$dir/lines"
    topic=bench.quick.$(date +%s)
    OBS_KAFKA_TOPIC=$topic OBS_KAFKA_DLQ_TOPIC=$topic.dlq build/bin/obsctl topics ensure --partitions 4 2>/dev/null
    OBS_WATCH_ROOTS="$dir/projects" OBS_KAFKA_TOPIC=$topic OBS_CHECKPOINT_PATH="$dir/ckpt" OBS_ADMIN_LISTEN=off \
        OBS_LOG_LEVEL=warn build/bin/obs-producer --once
    echo "$topic" >"$dir/topic"
fi
lines=$(cat "$dir/lines")
topic=$(cat "$dir/topic")
n=${BENCH_WORKERS:-1}
stamp=$(date +%s%N)
d=obs_bench_quick
db=$(obs_test_db "$d")
precreate_days "$dir/projects" "$db"
pids=()
t0=$(date +%s.%N)
for ((i = 0; i < n; i++)); do
    DATABASE_URL=$db OBS_KAFKA_TOPIC=$topic OBS_KAFKA_DLQ_TOPIC=$topic.dlq OBS_KAFKA_GROUP=quick-$stamp \
        OBS_ADMIN_LISTEN=off OBS_LOG_LEVEL=${OBS_LOG_LEVEL:-warn} OBS_PRICES_PATH=common/model_prices.json \
        build/bin/obs-worker >"$dir/worker-$i.log" 2>&1 &
    pids+=($!)
done
wait_stored "$db" "$lines" "${pids[0]}" >/dev/null || { tail -5 "$dir/worker-0.log" >&2; exit 1; }
t1=$(date +%s.%N)
got=$(psql "$db" -qtAX -c "SELECT count(*) FROM events")
[ "$got" = "$lines" ] || { echo "quick: events has $got rows, the corpus $lines lines" >&2; exit 1; }
sleep "${BENCH_SETTLE_S:-0}"
kill -TERM "${pids[@]}"
wait "${pids[@]}" || true
printf 'quick: %d lines, %d worker(s): %.0f events/s\n' "$lines" "$n" "$(echo "$lines / ($t1 - $t0)" | bc -l)"
tail -3 "$dir/worker-0.log"
echo "db: $db"
