#!/usr/bin/env bash
# test_producer.sh - obs-producer against the real Kafka broker: backfill,
# append with a partial line, truncation, replacement, oversize line,
# kill -9 and restart, SIGTERM, live tailing through inotify, admin port.
# Every check prints PASS:/FAIL:; the last line is "N passed, N failed".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/stack.sh"
: "${KAFKA_BOOTSTRAP:=127.0.0.1:19092}"
BIN=$OBS_BIN/obs-producer
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else ko "$what"; fi; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

work=$(mktemp -d /tmp/obs-producer-it.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
HOSTNAME_=it-host

# new_env NAME: a fresh topic, root, checkpoint and config file for a scenario.
new_env() {
    local name=$1
    T=$(obs_test_topics "t.producer.$$.$name" 3) || { ko "$name: create topic"; finish; }
    R=$work/$name/root
    CK=$work/$name/ckpt
    CONF=$work/$name/producer.conf
    mkdir -p "$R"
    cat >"$CONF" <<CONF
watch.roots = $R
checkpoint.path = $CK
kafka.topic = $T
kafka.bootstrap = $KAFKA_BOOTSTRAP
host = $HOSTNAME_
tenant = it
admin.listen = off
watch.rescan_interval_ms = 500
CONF
}
records() { python3 "$here/records.py" "$KAFKA_BOOTSTRAP" "$T" it "$HOSTNAME_"; }
count_records() { kcat -C -b "$KAFKA_BOOTSTRAP" -t "$T" -e -q -f '%o\n' 2>/dev/null | wc -l; }
# Non-blank complete lines of every *.jsonl under $1.
complete_lines() { find "$1" -name '*.jsonl' -print0 | xargs -0 -r cat | grep -c '[^[:space:]]'; }
once() { "$BIN" -c "$CONF" --once 2>"$work/last.err"; }

[ -x "$BIN" ] || { ko "binary $BIN missing"; finish; }

# ---- 1. backfill the fixtures ---------------------------------------------------
new_env backfill
if [ -d "$OBS_REPO/tests/fixtures/projects" ] && [ -n "$(ls -A "$OBS_REPO/tests/fixtures/projects")" ]; then
    cp -r "$OBS_REPO/tests/fixtures/projects/." "$R/"
else
    mkdir -p "$R/-p/s1/subagents"
    printf '{"a":1}\n{"a":2}\n' >"$R/-p/s1.jsonl"
    printf '{"b":1}\n' >"$R/-p/s1/subagents/agent-x.jsonl"
fi
printf 'not a transcript\n' >"$R/sessions-index.json"
want=$(complete_lines "$R")
check "backfill: --once exits 0" once
check "backfill: summary line printed" grep -q "^summary: files=.* lines=$want " "$work/last.err"
records >"$work/b.tsv"
got=$(wc -l <"$work/b.tsv")
check "backfill: one record per complete non-blank line ($got = $want)" [ "$got" -eq "$want" ]
check "backfill: every event_id matches the CONTRACTS rule" [ "$(awk -F'\t' '$8 != 1' "$work/b.tsv" | wc -l)" -eq 0 ]
bad_keys=$(awk -F'\t' '{ n = split($6, c, "/"); want = (n == 2) ? c[2] : (c[3] == "subagents" ? c[2] : c[n-1]);
    sub(/\.jsonl$/, "", want); if ($1 != want) print }' "$work/b.tsv" | wc -l)
check "backfill: keys are the session ids (path rule)" [ "$bad_keys" -eq 0 ]
sub_ok=$(awk -F'\t' '$6 ~ /subagents/ { split($6, c, "/"); if ($1 == c[2]) n++ } END { print n + 0 }' "$work/b.tsv")
check "backfill: sub-agent files are keyed by their parent session ($sub_ok records)" [ "$sub_ok" -gt 0 ]
check "backfill: files outside watch.include are ignored" [ "$(grep -c 'sessions-index' "$work/b.tsv")" -eq 0 ]
check "backfill: checkpoint written" [ -s "$CK" ]
check "backfill: second --once publishes nothing" once
check "backfill: no duplicates after a second run" [ "$(count_records)" -eq "$want" ]

# ---- 2. append complete lines and a partial one -----------------------------------
f=$(find "$R" -name '*.jsonl' | sort | head -1)
sz=$(stat -c %s "$f")
printf '{"n":1}\n{"n":2}\n\n{"n":3}\n{"partial":' >>"$f"
once
records >"$work/a.tsv"
check "append: exactly the 3 new complete lines arrive" [ "$(wc -l <"$work/a.tsv")" -eq $((want + 3)) ]
check "append: no (file_id, offset) duplicates" [ "$(cut -f4,5 "$work/a.tsv" | sort | uniq -d | wc -l)" -eq 0 ]
check "append: first new line at the old end of file ($sz)" grep -qP "\t$sz\t[^\t]*\t7\t1\t\\{\"n\":1\\}" "$work/a.tsv"
check "append: partial line not published" [ "$(grep -c partial "$work/a.tsv")" -eq 0 ]
printf '1}\n' >>"$f"
once
records >"$work/a2.tsv"
check "append: completed partial line arrives once" [ "$(grep -c '{"partial":1}' "$work/a2.tsv")" -eq 1 ]
check "append: total is still duplicate-free" [ "$(cut -f4,5 "$work/a2.tsv" | sort | uniq -d | wc -l)" -eq 0 ]

# ---- 3. truncation and 4. replacement --------------------------------------------
new_env change
mkdir -p "$R/p"
for i in $(seq 1 20); do printf '{"line":%d,"pad":"xxxxxxxxxxxxxxxxxxxx"}\n' "$i"; done >"$R/p/s.jsonl"
printf '{"r":1}\n{"r":2}\n' >"$R/p/r.jsonl"
once
check "change: 22 records first" [ "$(count_records)" -eq 22 ]
ino_r=$(stat -c %i "$R/p/r.jsonl")
: >"$R/p/s.jsonl.tmp"
printf '{"line":1,"pad":"xxxxxxxxxxxxxxxxxxxx"}\n{"after":"truncate"}\n' >"$R/p/s.jsonl.tmp"
cat "$R/p/s.jsonl.tmp" >"$R/p/s.jsonl" # same inode, shorter
rm "$R/p/s.jsonl.tmp"
printf '{"new":1}\n{"new":2}\n{"new":3}\n' >"$R/p/r.jsonl.new"
mv "$R/p/r.jsonl.new" "$R/p/r.jsonl" # new inode at the same path
check "change: replacement has a new inode" [ "$(stat -c %i "$R/p/r.jsonl")" != "$ino_r" ]
once
records >"$work/c.tsv"
check "change: truncation logged" grep -q 'truncated' "$work/last.err"
check "change: replacement logged" grep -q 'replaced' "$work/last.err"
check "change: truncated file re-read from 0 (2 lines)" [ "$(grep -c '"after":"truncate"' "$work/c.tsv")" -eq 1 ]
check "change: replaced file read from 0 with a new file_id" \
    [ "$(awk -F'\t' '$6 == "p/r.jsonl" && $5 == 0' "$work/c.tsv" | cut -f4 | sort -u | wc -l)" -eq 2 ]
check "change: 22 + 2 + 3 records" [ "$(count_records)" -eq 27 ]

# ---- 5. a line over the message limit ---------------------------------------------
new_env oversize
mkdir -p "$R/p"
{
    printf '{"before":1}\n'
    python3 -c 'import sys; sys.stdout.write("{\"big\":\"" + "x" * 1500000 + "\"}\n")'
    printf '{"after":1}\n'
} >"$R/p/s.jsonl"
check "oversize: --once exits 0" once
records >"$work/o.tsv"
check "oversize: 3 records" [ "$(wc -l <"$work/o.tsv")" -eq 3 ]
check "oversize: marker record with path, offset and size" \
    grep -q '{"type":"observatory-oversize","source_path":"p/s.jsonl","source_offset":13,"bytes":1500010}' "$work/o.tsv"
check "oversize: the following line is published" grep -q '{"after":1}' "$work/o.tsv"
check "oversize: error logged with path and offset" grep -q 'p/s.jsonl: line at offset 13' "$work/last.err"
check "oversize: checkpoint at the end of file" grep -q " $(stat -c %s "$R/p/s.jsonl") $R/p/s.jsonl\$" "$CK"

# ---- 6. kill -9 during a larger ingest, then restart ------------------------------
new_env crash
mkdir -p "$R/p"
python3 - "$R/p" <<'PY'
import sys
for f in range(4):
    with open(f"{sys.argv[1]}/s{f}.jsonl", "w") as out:
        for i in range(40000):
            out.write('{"type":"user","i":%d,"pad":"%s"}\n' % (i, "y" * 200))
PY
echo "kafka.max_inflight_bytes = 1048576" >>"$CONF"
"$BIN" -c "$CONF" 2>"$work/crash.err" &
pid=$!
pids+=("$pid")
ckpt_progress() { [ -s "$CK" ] && awk '!/^#/ { s += $4 } END { exit !(s > 0) }' "$CK"; }
check "crash: checkpoint advances while ingesting" wait_until 60 ckpt_progress
kill -9 "$pid"
wait "$pid" 2>/dev/null
cp "$CK" "$work/ckpt.at-kill"
total=$(cat "$R"/p/*.jsonl | wc -c)
at_kill=$(awk '!/^#/ { s += $4 } END { print s + 0 }' "$work/ckpt.at-kill")
echo "    killed with $at_kill of $total bytes acknowledged in the checkpoint"
check "crash: restart with --once exits 0" once
records >"$work/k.tsv"
python3 - "$R" "$work/ckpt.at-kill" "$work/k.tsv" >"$work/k.out" <<'PY'
import collections, os, sys
root, ck, tsv = sys.argv[1:4]
at_kill = {}
for line in open(ck):
    if line.startswith("#"): continue
    dev, ino, fp, off, path = line.rstrip("\n").split(" ", 4)
    at_kill[os.path.relpath(path, root)] = int(off)
seen = collections.Counter()
for line in open(tsv):
    c = line.split("\t")
    seen[(c[5], int(c[4]))] += 1
missing = dup_before = dups = 0
for name in sorted(os.listdir(os.path.join(root, "p"))):
    rel, off = "p/" + name, 0
    for l in open(os.path.join(root, rel), "rb"):
        n = seen.get((rel, off), 0)
        if n == 0: missing += 1
        if n > 1:
            dups += n - 1
            if off < at_kill.get(rel, 0): dup_before += 1
        off += len(l)
print(missing, dup_before, dups)
PY
read -r missing dup_before dups <"$work/k.out"
echo "    after restart: $dups duplicate record(s), all after the checkpoint at kill time"
check "crash: every line is present after the restart (missing=$missing)" [ "$missing" -eq 0 ]
check "crash: duplicates only after the checkpoint at kill time (before=$dup_before)" [ "$dup_before" -eq 0 ]
check "crash: final checkpoint covers every byte" \
    [ "$(awk '!/^#/ { s += $4 } END { print s + 0 }' "$CK")" -eq "$total" ]

# ---- 7. live tailing (inotify), admin port, SIGTERM --------------------------------
new_env live
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^admin.listen = off/admin.listen = 127.0.0.1:$port/; s/^watch.rescan_interval_ms = 500/watch.rescan_interval_ms = 600000/" "$CONF"
mkdir -p "$R/p"
printf '{"l":1}\n{"l":2}\n' >"$R/p/s.jsonl"
"$BIN" -c "$CONF" 2>"$work/live.err" &
pid=$!
pids+=("$pid")
has_n() { [ "$(count_records)" -ge "$1" ]; }
check "live: existing lines published" wait_until 30 has_n 2
printf '{"l":3}\n' >>"$R/p/s.jsonl"
check "live: appended line published via inotify (rescan is 10 min)" wait_until 15 has_n 3
mkdir -p "$R/p/s/subagents"
printf '{"sub":1}\n' >"$R/p/s/subagents/agent-z.jsonl"
check "live: file in a new sub-agent directory published" wait_until 15 has_n 4
check "live: sub-agent record keyed by the parent session" \
    bash -c "python3 '$here/records.py' '$KAFKA_BOOTSTRAP' '$T' it '$HOSTNAME_' | grep -qP '^s\t.*\tp/s/subagents/agent-z.jsonl\t'"
ready() { curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null; }
check "live: /readyz is 200" wait_until 15 ready
curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics" || true
check "live: /metrics counts lines" grep -qE '^observatory_producer_lines_total 4(\.0)?$' "$work/metrics"
check "live: /metrics has the latency histogram" grep -q '^observatory_producer_delivery_latency_seconds_bucket' "$work/metrics"
check "live: /metrics has files_tracked" grep -qE '^observatory_producer_files_tracked 2' "$work/metrics"
printf '{"l":4}\n{"partial":' >>"$R/p/s.jsonl"
check "live: line appended before SIGTERM published" wait_until 15 has_n 5
kill -TERM "$pid"
exited() { ! kill -0 "$pid" 2>/dev/null; }
check "live: SIGTERM stops within 15 s" wait_until 15 exited
wait "$pid"
rc=$?
check "live: exit status 0 after SIGTERM (got $rc)" [ "$rc" -eq 0 ]
end=$(($(stat -c %s "$R/p/s.jsonl") - 11))
check "live: checkpoint written at SIGTERM, before the partial line ($end)" grep -q " $end $R/p/s.jsonl\$" "$CK"

# ---- 8. bad configuration, Kafka unreachable ----------------------------------------
printf 'no.such.key = 1\nwatch.rescan_interval_ms = soon\n' >"$work/bad.conf"
"$BIN" -c "$work/bad.conf" --once 2>"$work/bad.err"
rc=$?
check "config: bad file exits 2 (got $rc)" [ "$rc" -eq 2 ]
check "config: one line per problem" [ "$(grep -c '^obs-producer: config: ' "$work/bad.err")" -eq 2 ]
check "config: --help lists the settings" bash -c "'$BIN' --help | grep -q 'watch.rescan_interval_ms'"
check "config: --version" bash -c "'$BIN' --version | grep -q '^obs-producer '"

new_env down
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dead=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -i "s/^admin.listen = off/admin.listen = 127.0.0.1:$port/; s/^kafka.bootstrap = .*/kafka.bootstrap = 127.0.0.1:$dead/" "$CONF"
echo "shutdown.flush_timeout_ms = 1000" >>"$CONF"
mkdir -p "$R/p"
printf '{"l":1}\n{"l":2}\n' >"$R/p/s.jsonl"
# The runner exports KAFKA_BOOTSTRAP, which outranks the file: drop it here.
env -u KAFKA_BOOTSTRAP -u OBS_KAFKA_BOOTSTRAP "$BIN" -c "$CONF" 2>"$work/down.err" &
pid=$!
pids+=("$pid")
answers() { curl -s -o /dev/null "http://127.0.0.1:$port/healthz"; }
wait_until 15 answers
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")
check "down: /readyz is 503 while Kafka is unreachable (got $code)" [ "$code" = 503 ]
kill -TERM "$pid"
exited() { ! kill -0 "$pid" 2>/dev/null; }
check "down: SIGTERM stops within the flush timeout" wait_until 10 exited
wait "$pid"
rc=$?
check "down: exit status 0 (got $rc)" [ "$rc" -eq 0 ]
check "down: nothing acknowledged, so the checkpoint stays at 0" grep -q " 0 $R/p/s.jsonl\$" "$CK"

finish
