#!/usr/bin/env bash
# dlq-replay.sh - copy dead-lettered records back to the events topic
# (ops/runbooks/dlq-replay.md).
#
# The workers put a record on the DLQ with its original key and value and the
# headers obs.reason, obs.source.topic, obs.source.partition,
# obs.source.offset (docs/CONTRACTS.md). After the cause is fixed and
# deployed, this script re-publishes the matching records, byte for byte,
# with the same key (so a session's lines stay on one partition) and the
# header obs.replayed-from=<dlq>:<partition>:<offset>. Re-publishing is safe
# even for records that did get stored: the workers insert idempotently by
# event id.
#
# Binary safe: each record's value is fetched into its own file with kcat and
# produced from that file as exactly one message (never split on newlines).
set -euo pipefail

PROG="dlq-replay.sh"
# shellcheck source=ops/scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
Usage: $PROG [options]

Select records of the DLQ and produce them again to the events topic.

Filters (all must match):
  --reason REGEX       obs.reason header matches this extended regex
  --key REGEX          record key (session id) matches this regex
  --partition N        only this DLQ partition
  --from-offset N      start at this offset in every DLQ partition (default: beginning)
  --since ISO8601      only records whose DLQ timestamp is at or after this time
  --limit N            stop after N records (default: 1000; 0 = no limit)

Options:
  -b, --bootstrap HOSTS   brokers (default: \$OBS_KAFKA_BOOTSTRAP or \$KAFKA_BOOTSTRAP)
      --dlq-topic NAME    DLQ (default: \$OBS_KAFKA_DLQ_TOPIC or observatory.session-events.dlq)
      --topic NAME        destination (default: \$OBS_KAFKA_TOPIC or observatory.session-events)
      --list              only list the matching records (partition, offset, key, reason)
      --dry-run           print the commands and the filter; contact no broker
  -y, --yes               do not ask for confirmation
  -h, --help              show this help

SASL/TLS settings come from the OBS_RDKAFKA__* variables, as for the programs.

Examples:
  $PROG --list --reason 'parse'
  $PROG --reason '^json: ' --since 2025-01-10T00:00:00Z --limit 500
USAGE
}

bootstrap=$(kafka_bootstrap)
dlq=${OBS_KAFKA_DLQ_TOPIC:-observatory.session-events.dlq}
topic=${OBS_KAFKA_TOPIC:-observatory.session-events}
reason_re=""
key_re=""
partition=""
from_offset=""
since=""
limit=1000
list_only=0

while (($#)); do
    case $1 in
        --reason) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; reason_re=$2; shift 2 ;;
        --key) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; key_re=$2; shift 2 ;;
        --partition) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; partition=$2; shift 2 ;;
        --from-offset) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; from_offset=$2; shift 2 ;;
        --since) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; since=$2; shift 2 ;;
        --limit) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; limit=$2; shift 2 ;;
        -b|--bootstrap) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; bootstrap=$2; shift 2 ;;
        --dlq-topic) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; dlq=$2; shift 2 ;;
        --topic) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; topic=$2; shift 2 ;;
        --list) list_only=1; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -y|--yes) ASSUME_YES=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument $1" ;;
    esac
done

[[ -n $bootstrap ]] || usage_error "no brokers: set OBS_KAFKA_BOOTSTRAP or pass --bootstrap"
[[ $dlq != "$topic" ]] || usage_error "the DLQ and the destination topic must differ"
for v in "$partition" "$from_offset" "$limit"; do
    [[ -z $v ]] || is_uint "$v" || usage_error "'$v' is not a whole number"
done
since_ms=0
if [[ -n $since ]]; then
    since_s=$(date -u -d "$since" +%s 2>/dev/null) || usage_error "cannot parse --since '$since'"
    since_ms=$((since_s * 1000))
fi

need kcat
mapfile -t xargs < <(kafka_args)

# 1. Scan the DLQ: one line per record, the value left out (it is binary).
#    Fields: partition, offset, timestamp(ms), key, headers (n=v CSV).
scan=(kcat -b "$bootstrap" "${xargs[@]}" -C -t "$dlq" -e -q -o "${from_offset:-beginning}"
      -f '%p\t%o\t%T\t%k\t%h\n')
[[ -n $partition ]] && scan+=(-p "$partition")

if [[ $DRY_RUN == 1 ]]; then
    # Contact nothing: show the scan, the filter and the per-record commands.
    print_cmd "${scan[@]}"
    log "dry-run: keep records with obs.reason ~ /${reason_re:-.*}/, key ~ /${key_re:-.*}/, timestamp >= ${since_ms} ms, at most ${limit} (0 = all)"
    print_cmd kcat -b "$bootstrap" "${xargs[@]}" -C -t "$dlq" -p PARTITION -o OFFSET -c 1 -e -q -f '%s'
    print_cmd kcat -b "$bootstrap" "${xargs[@]}" -P -t "$topic" -k KEY -H "obs.replayed-from=$dlq:PARTITION:OFFSET" VALUE_FILE
    exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${scan[@]}" > "$work/scan" || die "cannot read $dlq from $bootstrap"
awk -F'\t' -v reason="$reason_re" -v key="$key_re" -v since="$since_ms" -v limit="$limit" '
    function header(h, name,    n, i, parts) {
        n = split(h, parts, ",")
        for (i = 1; i <= n; i++)
            if (index(parts[i], name "=") == 1) return substr(parts[i], length(name) + 2)
        return ""
    }
    {
        r = header($5, "obs.reason")
        if (reason != "" && r !~ reason) next
        if (key != "" && $4 !~ key) next
        if ($3 + 0 < since + 0) next
        print $1 "\t" $2 "\t" $4 "\t" r
        if (limit > 0 && ++n >= limit) exit
    }' "$work/scan" > "$work/selected"

count=$(wc -l < "$work/selected" | tr -d ' ')
log "$count record(s) of $dlq match"
if ((list_only)); then
    printf 'partition\toffset\tkey\treason\n'
    cat "$work/selected"
    exit 0
fi
((count > 0)) || exit 0
confirm "produce $count record(s) from $dlq to $topic?"

n=0
while IFS=$'\t' read -r p o k _; do
    f="$work/value"
    kcat -b "$bootstrap" "${xargs[@]}" -C -t "$dlq" -p "$p" -o "$o" -c 1 -e -q -f '%s' > "$f" ||
        die "cannot fetch $dlq:$p:$o"
    kcat -b "$bootstrap" "${xargs[@]}" -P -t "$topic" -k "$k" -H "obs.replayed-from=$dlq:$p:$o" "$f" ||
        die "cannot produce $dlq:$p:$o to $topic (replayed $n so far; rerun with --partition $p --from-offset $o)"
    n=$((n + 1))
done < "$work/selected"
log "replayed $n record(s) from $dlq to $topic"
