#!/usr/bin/env bash
# dlq_replay_test.sh - ops/scripts/dlq-replay.sh against a fake kcat.
#
# The fake kcat (written below into a temp dir on PATH) serves a scan of four
# DLQ records and their binary values, and records what is produced. The test
# checks the filters (reason, since, limit), that a value with NUL, tab and
# newline bytes is re-published byte for byte as ONE record, and that the key
# and the obs.replayed-from header are set. Run by tests/deploy/run.sh.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/bin" "$T/values" "$T/produced"

# Records: partition, offset, timestamp ms, key, headers.
printf '%s\n' \
    $'0\t10\t1736500000000\tsess-1\tobs.reason=parse: bad json,obs.source.topic=observatory.session-events' \
    $'0\t11\t1736500001000\tsess-2\tobs.reason=avro: bad magic' \
    $'1\t5\t1736000000000\tsess-3\tobs.reason=parse: too old' \
    $'1\t6\t1736500002000\tsess-4\tobs.reason=parse: second' > "$T/scan"
printf 'A\0B\tC\nD\n' > "$T/values/0-10"
printf 'x' > "$T/values/0-11"
printf 'y' > "$T/values/1-5"
printf 'line1\nline2' > "$T/values/1-6"

cat > "$T/bin/kcat" <<'FAKE'
#!/usr/bin/env bash
# Fake kcat for dlq_replay_test.sh: -C scan / -C single record / -P one file.
set -euo pipefail
mode="" p="" o="" topic="" key="" header="" fmt="" file=""
while (($#)); do
    case $1 in
        -C|-P|-L) mode=$1; shift ;;
        -p) p=$2; shift 2 ;;
        -o) o=$2; shift 2 ;;
        -t) topic=$2; shift 2 ;;
        -k) key=$2; shift 2 ;;
        -H) header=$2; shift 2 ;;
        -f) fmt=$2; shift 2 ;;
        -b|-c|-X) shift 2 ;;
        -e|-q) shift ;;
        *) file=$1; shift ;;
    esac
done
case $mode in
    -C)
        if [[ $fmt == '%s' ]]; then cat "$FAKE_KCAT/values/$p-$o"
        else cat "$FAKE_KCAT/scan"
        fi ;;
    -P)
        n=$(find "$FAKE_KCAT/produced" -name "*.value" | wc -l)
        cp "$file" "$FAKE_KCAT/produced/$n.value"
        printf '%s\t%s\t%s\n' "$topic" "$key" "$header" > "$FAKE_KCAT/produced/$n.meta" ;;
    *) exit 1 ;;
esac
FAKE
chmod +x "$T/bin/kcat"
export PATH=$T/bin:$PATH FAKE_KCAT=$T
export OBS_KAFKA_BOOTSTRAP=fake:9092

fail() { echo "FAIL: $*" >&2; exit 1; }

# --list applies the filters and produces nothing.
"$ROOT/ops/scripts/dlq-replay.sh" --list --reason '^parse' > "$T/list"
grep -q $'^0\t10\tsess-1\tparse: bad json$' "$T/list" || fail "list misses 0:10"
grep -q $'^1\t6\tsess-4' "$T/list" || fail "list misses 1:6"
grep -q 'bad magic' "$T/list" && fail "list includes a record of another reason"
[[ -z $(ls "$T/produced") ]] || fail "--list produced records"

# Replay: reason ^parse, since excludes 1:5, limit 1 keeps only 0:10.
"$ROOT/ops/scripts/dlq-replay.sh" --yes --reason '^parse' --since 2025-01-10T00:00:00Z --limit 1
[[ $(ls "$T/produced" | wc -l) == 2 ]] || fail "expected exactly one produced record: $(ls "$T/produced")"
cmp -s "$T/values/0-10" "$T/produced/0.value" || fail "the value was not re-published byte for byte"
IFS=$'\t' read -r topic key header < "$T/produced/0.meta"
[[ $topic == observatory.session-events ]] || fail "produced to $topic"
[[ $key == sess-1 ]] || fail "key $key"
[[ $header == obs.replayed-from=observatory.session-events.dlq:0:10 ]] || fail "header $header"

# Without --limit both remaining parse records (0:10, 1:6) go; 1:5 is too old.
rm -f "$T/produced"/*
"$ROOT/ops/scripts/dlq-replay.sh" --yes --reason '^parse' --since 2025-01-10T00:00:00Z --limit 0
[[ $(ls "$T/produced" | wc -l) == 4 ]] || fail "expected two produced records"
cmp -s "$T/values/1-6" "$T/produced/1.value" || fail "the second value differs"
echo "dlq-replay: filters, binary-safe values, key and header ok"
