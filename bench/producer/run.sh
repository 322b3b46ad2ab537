#!/usr/bin/env bash
# bench/producer/run.sh - obs-producer against kcat, side by side, same run.
#
# Generates a corpus (BENCH_BYTES, default 1 GiB) of realistic transcript
# files from the fixture shapes, then publishes it twice to the real local
# broker, each time to a fresh 6-partition topic with the same delivery
# settings (idempotence, acks=all, lz4):
#   baseline: kcat -P (raw librdkafka, one message per line, no checkpoint)
#   ours:     obs-producer --once (Avro envelope, keys, checkpoint)
# Reports lines/s, MB/s, CPU seconds per GB and peak RSS of both and the
# ratios into bench/results/producer.json.
# Then the follow-mode latency (bench/producer/latency.py): lines appended at
# BENCH_LAT_RATE/s (200) for BENCH_LAT_SECONDS (20) to a followed file, timed
# from append until a consumer reads the record (an upper bound of
# append -> ack), reported as ack_latency_p99_ms (goal: at most 100 ms).
# Every topic it creates is deleted at the end, on failure too (EXIT trap,
# bench/producer/delete_topics.c through librdkafka's admin API).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$BENCH_REPO"
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null

bytes=${BENCH_BYTES:-1073741824}
out=bench/results/producer.json
work=${BENCH_WORK:-$(mktemp -d /var/tmp/obs-bench-producer.XXXXXX)}
topics=()
cleanup() {
    if [ "${#topics[@]}" -gt 0 ] && [ -x "$work/delete_topics" ]; then
        "$work/delete_topics" "$KAFKA_BOOTSTRAP" "${topics[@]}" >/dev/null ||
            echo "bench/producer: could not delete topics: ${topics[*]}" >&2
    fi
    rm -rf "$work"
    obs_stack_down
}
trap cleanup EXIT
trap 'exit 130' INT TERM
obs_stack_up
cc -O2 -o "$work/delete_topics" bench/producer/delete_topics.c -lrdkafka
# new_topic NAME: create NAME and NAME.dlq (6 partitions), remembered for cleanup.
new_topic() {
    topics+=("$1" "$1.dlq")
    OBS_KAFKA_TOPIC=$1 OBS_KAFKA_DLQ_TOPIC=$1.dlq build/bin/obsctl topics ensure --partitions 6 2>/dev/null
}

echo "bench/producer: generating $((bytes >> 20)) MiB corpus in $work"
python3 bench/gen_corpus.py "$work/projects" --bytes "$bytes" >/dev/null
lines=$(find "$work/projects" -name '*.jsonl' -print0 | xargs -0 cat | wc -l)
size=$(du -sb "$work/projects" | cut -f1)
echo "bench/producer: $lines lines, $size bytes"

stamp=$(date +%s)
repeat=${BENCH_REPEAT:-3}
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench/producer: $repeat alternating runs of each side; load average at start: $load"

# Warm the page cache so both read from memory.
find "$work/projects" -name '*.jsonl' -print0 | xargs -0 cat >/dev/null

kcat_cmd="find CORPUS -name '*.jsonl' -print0 | xargs -0 cat | kcat -P -b $KAFKA_BOOTSTRAP -t TOPIC -X enable.idempotence=true -X acks=all -X compression.codec=lz4 -X linger.ms=5 -X queue.buffering.max.kbytes=65536"
prod_cmd="OBS_WATCH_ROOTS=CORPUS OBS_KAFKA_TOPIC=TOPIC OBS_CHECKPOINT_PATH=... obs-producer --once"

# Both topics must hold every line.
count() {
    kcat -C -b "$KAFKA_BOOTSTRAP" -t "$1" -e -q -f '.\n' 2>/dev/null | wc -l
}

# The machine may be shared: run the two sides alternately, each on a fresh
# topic, and report each side's median wall and CPU time (peak RSS: the
# largest of the runs).
kw=() kcpu=() krss=() pw=() pcpu=() prss=()
for r in $(seq 1 "$repeat"); do
    kt=bench.kcat.$stamp.$r
    pt=bench.producer.$stamp.$r
    new_topic "$kt"
    new_topic "$pt"
    echo "bench/producer: run $r: kcat -P"
    measure KCAT bash -c "find '$work/projects' -name '*.jsonl' -print0 | xargs -0 cat | \
        kcat -P -b '$KAFKA_BOOTSTRAP' -t '$kt' -X enable.idempotence=true -X acks=all \
        -X compression.codec=lz4 -X linger.ms=5 -X queue.buffering.max.kbytes=65536"
    echo "bench/producer: run $r: obs-producer --once"
    rm -f "$work/ckpt"
    measure PROD env OBS_WATCH_ROOTS="$work/projects" OBS_KAFKA_TOPIC="$pt" OBS_CHECKPOINT_PATH="$work/ckpt" \
        OBS_ADMIN_LISTEN=off OBS_LOG_LEVEL=warn OBS_RDKAFKA__COMPRESSION_CODEC=lz4 build/bin/obs-producer --once
    echo "bench/producer: run $r: kcat ${MEAS_KCAT_WALL}s wall ${MEAS_KCAT_CPU}s CPU, obs-producer ${MEAS_PROD_WALL}s wall ${MEAS_PROD_CPU}s CPU"
    kw+=("$MEAS_KCAT_WALL") kcpu+=("$MEAS_KCAT_CPU") krss+=("$MEAS_KCAT_RSS")
    pw+=("$MEAS_PROD_WALL") pcpu+=("$MEAS_PROD_CPU") prss+=("$MEAS_PROD_RSS")
    kc=$(count "$kt")
    pc=$(count "$pt")
    echo "bench/producer: run $r: records in topics: kcat $kc, obs-producer $pc (lines $lines)"
    [ "$kc" -eq "$lines" ] && [ "$pc" -eq "$lines" ] || { echo "bench/producer: record counts differ from lines" >&2; exit 1; }
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
MEAS_KCAT_WALL=$(median "${kw[@]}") MEAS_KCAT_CPU=$(median "${kcpu[@]}") MEAS_KCAT_RSS=$(maxof "${krss[@]}")
MEAS_PROD_WALL=$(median "${pw[@]}") MEAS_PROD_CPU=$(median "${pcpu[@]}") MEAS_PROD_RSS=$(maxof "${prss[@]}")
note="median of $repeat alternating runs, load average at start $load"

rm -f "$out"
gb=$(echo "$size / 1073741824" | bc -l)
json_metric "$out" lines_per_s "$(echo "$lines / $MEAS_PROD_WALL" | bc -l)" kcat "$(echo "$lines / $MEAS_KCAT_WALL" | bc -l)" 0.8 "$MEAS_PROD_RSS" "make bench-producer  # $prod_cmd vs $kcat_cmd; $note"
json_metric "$out" mb_per_s "$(echo "$size / 1048576 / $MEAS_PROD_WALL" | bc -l)" kcat "$(echo "$size / 1048576 / $MEAS_KCAT_WALL" | bc -l)" 0.8 "$MEAS_PROD_RSS" "make bench-producer  # $note"
json_metric "$out" cpu_s_per_gb "$(echo "$MEAS_PROD_CPU / $gb" | bc -l)" kcat "$(echo "$MEAS_KCAT_CPU / $gb" | bc -l)" 1.5 "$MEAS_PROD_RSS" "make bench-producer  # goal: ratio at most 1.5; $note"
json_metric "$out" peak_rss_mib "$MEAS_PROD_RSS" kcat "$MEAS_KCAT_RSS" 0 "$MEAS_PROD_RSS" "make bench-producer  # goal: under 64 MiB; largest of $repeat runs"

lt=bench.latency.$stamp
new_topic "$lt"
rate=${BENCH_LAT_RATE:-200}
secs=${BENCH_LAT_SECONDS:-20}
port=${BENCH_LAT_PORT:-19181}
echo "bench/producer: latency, follow mode, $rate lines/s for $secs s"
lat=$(python3 bench/producer/latency.py "$KAFKA_BOOTSTRAP" "$lt" build/bin/obs-producer "$work" "$port" "$rate" "$secs")
echo "bench/producer: $lat"
jf() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$lat" "$1"; }
lat_cmd="make bench-producer  # bench/producer/latency.py: obs-producer following a file, $rate lines/s appended for $secs s"
json_metric "$out" ack_latency_p99_ms "$(jf e2e_p99_ms)" goal_ms 100 1 "$MEAS_PROD_RSS" \
    "$lat_cmd; append -> record readable by a kcat consumer (upper bound of append -> ack); p50 $(jf e2e_p50_ms) ms, max $(jf e2e_max_ms) ms"
json_metric "$out" append_to_read_p99_ms "$(jf read_p99_ms)" goal_ms 100 1 "$MEAS_PROD_RSS" \
    "$lat_cmd; append -> obs-producer read it (record observed_time, 1 ms resolution)"
json_metric "$out" read_to_ack_p99_bucket_ms "$(jf ack_hist_p99_le_ms)" goal_ms 100 1 "$MEAS_PROD_RSS" \
    "$lat_cmd; upper bound of the observatory_producer_delivery_latency_seconds bucket holding p99 (/metrics)"
echo "bench/producer: wrote $out"
