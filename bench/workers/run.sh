#!/usr/bin/env bash
# bench/workers/run.sh - obs-worker (Kafka -> parse -> enrich -> PostgreSQL)
# against a raw `psql \copy` of exactly the rows the workers wrote, into the
# same partitioned tables of a fresh database — the physical limit.
#
#   BENCH_BYTES   corpus size (default 1.75 GiB, about 2.1 million lines)
#   BENCH_WORKERS worker counts to measure (default "1 2 4")
#
# Also measures freshness: a line appended to a followed file until it is
# visible through the API (p50/p99 over BENCH_FRESH_LINES lines).
# Writes bench/results/workers.json.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$BENCH_REPO"
# Progress while workers run: wait_stored (bench/lib.sh); the final count is
# checked once the clock has stopped.
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null

bytes=${BENCH_BYTES:-1879048192}
out=bench/results/workers.json
work=${BENCH_WORK:-$(mktemp -d /var/tmp/obs-bench-workers.XXXXXX)}
stamp=$(date +%s)
dbs=()
cleanup() {
    for d in "${dbs[@]}"; do psql "$DATABASE_URL" -qX -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$work"
    obs_stack_down
}
trap cleanup EXIT
obs_stack_up

echo "bench/workers: generating $((bytes >> 20)) MiB corpus"
python3 bench/gen_corpus.py "$work/projects" --bytes "$bytes" >/dev/null
lines=$(find "$work/projects" -name '*.jsonl' -print0 | xargs -0 cat | wc -l)
topic=bench.workers.$stamp
OBS_KAFKA_TOPIC=$topic OBS_KAFKA_DLQ_TOPIC=$topic.dlq build/bin/obsctl topics ensure --partitions 4 2>/dev/null
echo "bench/workers: publishing $lines lines to $topic"
OBS_WATCH_ROOTS="$work/projects" OBS_KAFKA_TOPIC=$topic OBS_CHECKPOINT_PATH="$work/ckpt" OBS_ADMIN_LISTEN=off \
    OBS_LOG_LEVEL=warn build/bin/obs-producer --once

# run_workers N DB: start N workers on a fresh group, wait until every line is
# stored, print events/s; peak RSS of worker 1 (MiB) into $work/rss-N (the
# function runs in a command substitution, so a variable would be lost).
run_workers() {
    local n=$1 db=$2 pids=() t0 t1 got i
    t0=$(date +%s.%N)
    for ((i = 0; i < n; i++)); do
        DATABASE_URL=$db OBS_KAFKA_TOPIC=$topic OBS_KAFKA_DLQ_TOPIC=$topic.dlq OBS_KAFKA_GROUP=bench-$n-$stamp \
            OBS_ADMIN_LISTEN=off OBS_LOG_LEVEL=warn OBS_PRICES_PATH=common/model_prices.json \
            build/bin/obs-worker >"$work/worker-$n-$i.log" 2>&1 &
        pids+=($!)
    done
    RSS_MIB=$(wait_stored "$db" "$lines" "${pids[0]}") ||
        { echo "see $work/worker-$n-0.log" >&2; tail -5 "$work/worker-$n-0.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    got=$(psql "$db" -qtAX -c "SELECT count(*) FROM events")
    [ "$got" = "$lines" ] || { echo "bench/workers: events has $got rows, the corpus $lines lines" >&2; exit 1; }
    echo "$RSS_MIB" >"$work/rss-$n"
    kill -TERM "${pids[@]}"
    wait "${pids[@]}" || true
    echo "$lines / ($t1 - $t0)" | bc -l
}

rm -f "$out"
declare -A eps rss
for n in ${BENCH_WORKERS:-1 2 4}; do
    d=obs_bench_w${n}_$stamp
    dbs+=("$d")
    db=$(obs_test_db "$d")
    precreate_days "$work/projects" "$db" # as the baseline's database below; not timed on either side
    eps[$n]=$(run_workers "$n" "$db")
    rss[$n]=$(cat "$work/rss-$n")
    printf 'bench/workers: %d worker(s): %.0f events/s\n' "$n" "${eps[$n]}"
    [ "$n" = 1 ] && db1=$db
done

# Baseline: \copy exactly the rows the single worker wrote into a fresh,
# migrated database with the same day partitions.
echo "bench/workers: baseline psql \\copy of the same rows"
d=obs_bench_copy_$stamp
dbs+=("$d")
dbc=$(obs_test_db "$d")
psql "$db1" -qtAX -c "SELECT DISTINCT (event_time AT TIME ZONE 'UTC')::date FROM events" | while read -r day; do
    psql "$dbc" -qtAX -c "SELECT obs_ensure_day_partition('events', '$day'), obs_ensure_day_partition('tool_calls', '$day')" >/dev/null
done
tables="events tool_calls message_usage sessions"
for t in $tables; do
    psql "$db1" -qX -c "\\copy (SELECT * FROM $t) TO '$work/$t.copy'"
done
t0=$(date +%s.%N)
for t in $tables; do
    psql "$dbc" -qX -c "\\copy $t FROM '$work/$t.copy'"
done
t1=$(date +%s.%N)
copy_eps=$(echo "$lines / ($t1 - $t0)" | bc -l)
printf 'bench/workers: psql \\copy: %.0f events/s (all four tables)\n' "$copy_eps"

cmd="make bench-workers  # BENCH_BYTES=$bytes ($lines lines)"
json_metric "$out" events_per_s "${eps[1]}" psql_copy "$copy_eps" 0.5 "${rss[1]}" "$cmd"
for n in ${BENCH_WORKERS:-1 2 4}; do
    [ "$n" = 1 ] && continue
    json_metric "$out" "events_per_s_${n}_workers" "${eps[$n]}" psql_copy "$copy_eps" 0.5 "${rss[$n]}" "$cmd"
done

# Freshness: append lines to a followed file, poll the API.
bash bench/workers/freshness.sh "$out" "$stamp"
echo "bench/workers: wrote $out"
