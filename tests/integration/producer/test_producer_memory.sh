#!/usr/bin/env bash
# test_producer_memory.sh - obs-producer's memory stays bounded whatever the
# file sizes: one transcript of 220 MiB (plus two lines over the record limit
# and one just under it) published with --once to the real broker while its
# RSS is sampled from /proc every 20 ms. Asserts peak RSS (the largest
# VmRSS sample and the kernel's VmHWM) under 64 MiB and prints it.
# Every check prints PASS:/FAIL:; the last line is "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/stack.sh"
: "${KAFKA_BOOTSTRAP:=127.0.0.1:19092}"
BIN=$OBS_BIN/obs-producer
LIMIT_KB=$((64 * 1024))
MIB=${OBS_MEMORY_TEST_MIB:-220}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

work=$(mktemp -d /var/tmp/obs-producer-mem.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

T=$(obs_test_topics "t.producer.$$.memory" 3) || { ko "create topic"; finish; }
python3 "$OBS_REPO/bench/gen_corpus.py" "$work/root" --bytes $((MIB << 20)) --file-mb $((MIB + 1)) >/dev/null ||
    { ko "generate corpus"; finish; }
f=$(find "$work/root" -name '*.jsonl')
[ "$(echo "$f" | wc -l)" -eq 1 ] || { ko "one file expected, got: $f"; finish; }
# Two lines over the 1 MB record limit (oversize records) and one just under it.
python3 - "$f" <<'PY'
import sys
with open(sys.argv[1], "a") as o:
    for n in (3 << 20, 2 << 20, 990000):
        o.write('{"type":"user","message":{"role":"user","content":"' + "y" * n + '"}}\n')
PY
size=$(stat -c %s "$f")
lines=$(grep -c '[^[:space:]]' "$f")
echo "file: $f, $((size >> 20)) MiB, $lines lines"
[ "$size" -ge $((200 << 20)) ] && ok "file is over 200 MB ($size bytes)" || ko "file is over 200 MB ($size bytes)"

OBS_WATCH_ROOTS=$work/root OBS_KAFKA_TOPIC=$T OBS_KAFKA_BOOTSTRAP=$KAFKA_BOOTSTRAP \
    OBS_CHECKPOINT_PATH=$work/ckpt OBS_ADMIN_LISTEN=off OBS_LOG_LEVEL=warn \
    "$BIN" --once 2>"$work/stderr" &
pid=$!
max_rss=0 hwm=0 samples=0
while kill -0 "$pid" 2>/dev/null; do
    if st=$(cat "/proc/$pid/status" 2>/dev/null); then
        r=$(awk '/^VmRSS:/ {print $2}' <<<"$st")
        h=$(awk '/^VmHWM:/ {print $2}' <<<"$st")
        [ -n "$r" ] && [ "$r" -gt "$max_rss" ] && max_rss=$r
        [ -n "$h" ] && [ "$h" -gt "$hwm" ] && hwm=$h
        samples=$((samples + 1))
    fi
    sleep 0.02
done
wait "$pid"
rc=$?
pid=
grep -v '"level":"error".*observatory-oversize' "$work/stderr" | grep -v '^summary' | head -5
grep '^summary' "$work/stderr"
[ "$rc" -eq 0 ] && ok "--once exits 0" || ko "--once exits $rc"
echo "peak RSS: largest VmRSS sample $((max_rss / 1024)) MiB ($max_rss kB), VmHWM $((hwm / 1024)) MiB ($hwm kB), $samples samples"
[ "$samples" -ge 10 ] && ok "RSS sampled $samples times" || ko "RSS sampled only $samples times"
[ "$max_rss" -gt 0 ] && [ "$max_rss" -lt "$LIMIT_KB" ] && ok "largest RSS sample $max_rss kB < 64 MiB" ||
    ko "largest RSS sample $max_rss kB < 64 MiB"
[ "$hwm" -gt 0 ] && [ "$hwm" -lt "$LIMIT_KB" ] && ok "VmHWM $hwm kB < 64 MiB" || ko "VmHWM $hwm kB < 64 MiB"
grep -q "oversize=2 " "$work/stderr" && ok "two oversize records" || ko "two oversize records"
got=$(kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T" -e -q -f '%o\n' 2>/dev/null | wc -l)
[ "$got" -eq "$lines" ] && ok "every line in the topic ($got)" || ko "every line in the topic ($got of $lines)"
finish
