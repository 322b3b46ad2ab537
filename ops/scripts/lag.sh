#!/usr/bin/env bash
# lag.sh - consumer lag of the obs-worker group, per partition
# (ops/runbooks/ObservatoryWorkerLagHigh.md, scaling.md).
#
# Methods, in the order "auto" tries them:
#   kafka-tools  kafka-consumer-groups(.sh) --describe: committed offset,
#                log-end offset and lag per partition, plus the members.
#   prometheus   the workers' own gauge observatory_worker_partition_lag
#                through the Prometheus HTTP API (needs --prometheus URL).
#   kcat         log-end offsets per partition only: kcat cannot read a
#                group's committed offsets without joining the group, which
#                would trigger a rebalance of the live workers, so it never does.
set -euo pipefail

PROG="lag.sh"
# shellcheck source=ops/scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
Usage: $PROG [options]

Options:
  -b, --bootstrap HOSTS   brokers (default: \$OBS_KAFKA_BOOTSTRAP or \$KAFKA_BOOTSTRAP)
  -g, --group NAME        consumer group (default: \$OBS_CONSUMER_GROUP or observatory-workers)
  -t, --topic NAME        topic (default: \$OBS_KAFKA_TOPIC or observatory.session-events)
  -m, --method M          auto, kafka-tools, prometheus or kcat (default: auto)
      --prometheus URL    Prometheus base URL for --method prometheus
      --command-config F  client properties file for kafka-consumer-groups (SASL/TLS)
      --dry-run           print the commands instead of running them
  -h, --help              show this help

SASL/TLS settings for kcat come from the OBS_RDKAFKA__* variables, as for the
programs (OBS_RDKAFKA__SECURITY_PROTOCOL=SASL_SSL, ...).

Examples:
  OBS_KAFKA_BOOTSTRAP=b-1.kafka.internal:9096 $PROG --command-config client.properties
  $PROG --method prometheus --prometheus http://prometheus.monitoring:9090
USAGE
}

bootstrap=$(kafka_bootstrap)
group=${OBS_CONSUMER_GROUP:-observatory-workers}
topic=${OBS_KAFKA_TOPIC:-observatory.session-events}
method=auto
prometheus=""
command_config=""

while (($#)); do
    case $1 in
        -b|--bootstrap) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; bootstrap=$2; shift 2 ;;
        -g|--group) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; group=$2; shift 2 ;;
        -t|--topic) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; topic=$2; shift 2 ;;
        -m|--method) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; method=$2; shift 2 ;;
        --prometheus) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; prometheus=$2; shift 2 ;;
        --command-config) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; command_config=$2; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument $1" ;;
    esac
done

case $method in auto|kafka-tools|prometheus|kcat) ;; *) usage_error "unknown method $method" ;; esac

kafka_tool() {
    local t
    for t in kafka-consumer-groups kafka-consumer-groups.sh; do
        command -v "$t" >/dev/null 2>&1 && { printf '%s' "$t"; return 0; }
    done
    [[ $DRY_RUN == 1 ]] && { printf 'kafka-consumer-groups.sh'; return 0; }
    return 1
}

if [[ $method == auto ]]; then
    if kafka_tool >/dev/null; then method=kafka-tools
    elif [[ -n $prometheus ]]; then method=prometheus
    else method=kcat
    fi
fi

case $method in
    kafka-tools)
        [[ -n $bootstrap ]] || usage_error "no brokers: set OBS_KAFKA_BOOTSTRAP or pass --bootstrap"
        tool=$(kafka_tool) || die "kafka-consumer-groups is not installed (use --method prometheus or kcat)"
        cmd=("$tool" --bootstrap-server "$bootstrap" --describe --group "$group")
        [[ -n $command_config ]] && cmd+=(--command-config "$command_config")
        # Lag per partition, then the total, for the runbook's thresholds.
        if [[ $DRY_RUN == 1 ]]; then
            run "${cmd[@]}"
        else
            out=$("${cmd[@]}")
            printf '%s\n' "$out"
            printf '%s\n' "$out" | awk -v t="$topic" '$2 == t && $6 ~ /^[0-9]+$/ { s += $6; n++ }
                END { printf "total lag on %s: %d records over %d partitions\n", t, s, n }'
        fi
        run "${cmd[@]}" --members || true ;;
    prometheus)
        [[ -n $prometheus ]] || usage_error "--method prometheus needs --prometheus URL"
        need curl
        query="max by (partition) (observatory_worker_partition_lag)"
        run curl -fsS --get "${prometheus%/}/api/v1/query" --data-urlencode "query=$query"
        echo ;;
    kcat)
        [[ -n $bootstrap ]] || usage_error "no brokers: set OBS_KAFKA_BOOTSTRAP or pass --bootstrap"
        need kcat
        mapfile -t xargs < <(kafka_args)
        log "kcat shows log-end offsets only; committed offsets need kafka-consumer-groups or Prometheus"
        run kcat -b "$bootstrap" "${xargs[@]}" -L -t "$topic"
        run kcat -b "$bootstrap" "${xargs[@]}" -Q -t "$topic:-1:-1" ;;
esac
