#!/usr/bin/env bash
# scale-workers.sh - change how many obs-worker replicas run
# (ops/runbooks/scaling.md).
#
# The workers form one Kafka consumer group: replicas beyond the partition
# count of the topic sit idle, so the script refuses to go above it. With
# KEDA the ScaledObject is paused at a fixed count (annotation
# autoscaling.keda.sh/paused-replicas) or its bounds are patched; with the
# fallback HPA its bounds are patched; without autoscaling the Deployment is
# scaled. Patches last until the next `helm upgrade`: make lasting changes in
# the values (worker.autoscaling.*).
set -euo pipefail

PROG="scale-workers.sh"
# shellcheck source=ops/scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
Usage: $PROG [options] --replicas N | --max N [--min N] | --resume

  --replicas N       run exactly N workers (pauses KEDA/HPA scaling at N)
  --max N            set the autoscaler ceiling to N (and --min N its floor)
  --resume           hand the replica count back to the autoscaler

Options:
  -r, --release NAME     Helm release (default: \$OBS_RELEASE or observatory)
  -n, --namespace NS     namespace (default: \$OBS_NAMESPACE or observatory)
  -p, --partitions N     partition count of the events topic; when omitted it
                         is read with kcat from \$OBS_KAFKA_BOOTSTRAP
  -t, --topic NAME       events topic (default: \$OBS_KAFKA_TOPIC or observatory.session-events)
      --mode MODE        keda, hpa or plain (default: detected from the cluster)
      --dry-run          print the commands instead of running them
  -h, --help             show this help

Examples:
  $PROG --replicas 12 --partitions 12
  $PROG --max 24 --min 4
  $PROG --resume
USAGE
}

release=${OBS_RELEASE:-observatory}
namespace=${OBS_NAMESPACE:-observatory}
topic=${OBS_KAFKA_TOPIC:-observatory.session-events}
partitions=""
replicas=""
max=""
min=""
resume=0
mode=""

while (($#)); do
    case $1 in
        --replicas) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; replicas=$2; shift 2 ;;
        --max) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; max=$2; shift 2 ;;
        --min) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; min=$2; shift 2 ;;
        --resume) resume=1; shift ;;
        -r|--release) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; release=$2; shift 2 ;;
        -n|--namespace) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; namespace=$2; shift 2 ;;
        -p|--partitions) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; partitions=$2; shift 2 ;;
        -t|--topic) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; topic=$2; shift 2 ;;
        --mode) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; mode=$2; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument $1" ;;
    esac
done

actions=$(( (${#replicas} > 0) + (${#max} > 0) + resume ))
((actions == 1)) || usage_error "give exactly one of --replicas, --max, --resume"
[[ -z $min || -n $max ]] || usage_error "--min goes with --max"
for v in "$replicas" "$max" "$min" "$partitions"; do
    [[ -z $v ]] || is_uint "$v" || usage_error "'$v' is not a whole number"
done
[[ -z $mode || $mode == keda || $mode == hpa || $mode == plain ]] || usage_error "--mode must be keda, hpa or plain"

need kubectl
deploy="$(obs_fullname "$release")-worker"

# The ceiling: a consumer group never uses more members than partitions.
if [[ -z $partitions && $resume == 0 ]]; then
    bootstrap=$(kafka_bootstrap)
    if [[ -n $bootstrap && $DRY_RUN == 0 ]]; then
        need kcat
        mapfile -t xargs < <(kafka_args)
        partitions=$(kcat -b "$bootstrap" "${xargs[@]}" -L -t "$topic" 2>/dev/null | grep -cE '^ +partition [0-9]+' || true)
        [[ $partitions -gt 0 ]] || die "could not read the partitions of $topic from $bootstrap; pass --partitions"
        log "$topic has $partitions partitions"
    elif [[ $DRY_RUN == 1 ]]; then
        print_cmd kcat -b "${bootstrap:-\$OBS_KAFKA_BOOTSTRAP}" -L -t "$topic" >&2
    else
        die "set OBS_KAFKA_BOOTSTRAP or pass --partitions so the partition ceiling can be checked"
    fi
fi
target=${replicas:-$max}
if [[ -n $partitions && -n $target ]] && ((target > partitions)); then
    die "$target workers > $partitions partitions: the extra workers would sit idle. Add partitions first (ops/runbooks/scaling.md)"
fi
if [[ -n $min && -n $max ]] && ((min > max)); then
    usage_error "--min $min is greater than --max $max"
fi

# Which autoscaler owns the Deployment?
if [[ -z $mode ]]; then
    if [[ $DRY_RUN == 1 ]]; then
        print_cmd kubectl get scaledobject "$deploy" --namespace "$namespace" >&2
        mode=keda
        log "dry-run: assuming KEDA (use --mode to choose)"
    elif kubectl get scaledobject "$deploy" --namespace "$namespace" >/dev/null 2>&1; then
        mode=keda
    elif kubectl get hpa "$deploy" --namespace "$namespace" >/dev/null 2>&1; then
        mode=hpa
    else
        mode=plain
    fi
fi
log "worker Deployment $namespace/$deploy, scaled by: $mode"

case $mode in
    keda)
        if [[ -n $replicas ]]; then
            run kubectl annotate scaledobject "$deploy" --namespace "$namespace" --overwrite \
                "autoscaling.keda.sh/paused-replicas=$replicas"
        elif ((resume)); then
            run kubectl annotate scaledobject "$deploy" --namespace "$namespace" \
                "autoscaling.keda.sh/paused-replicas-"
        else
            patch="{\"spec\":{\"maxReplicaCount\":$max${min:+,\"minReplicaCount\":$min}}}"
            run kubectl patch scaledobject "$deploy" --namespace "$namespace" --type merge -p "$patch"
        fi ;;
    hpa)
        if [[ -n $replicas ]]; then
            run kubectl patch hpa "$deploy" --namespace "$namespace" --type merge \
                -p "{\"spec\":{\"minReplicas\":$((replicas > 0 ? replicas : 1)),\"maxReplicas\":$((replicas > 0 ? replicas : 1))}}"
            ((replicas > 0)) || log "an HPA cannot go to 0: use --mode plain after deleting the HPA, or KEDA"
        elif ((resume)); then
            log "resume with the HPA: restore its bounds from the values with helm upgrade (ops/runbooks/deploy.md)"
            run helm get values "$release" --namespace "$namespace" --all
        else
            patch="{\"spec\":{\"maxReplicas\":$max${min:+,\"minReplicas\":$min}}}"
            run kubectl patch hpa "$deploy" --namespace "$namespace" --type merge -p "$patch"
        fi ;;
    plain)
        ((resume)) && die "no autoscaler to resume; set worker.autoscaling.enabled in the values"
        [[ -n $replicas ]] || die "without an autoscaler only --replicas applies"
        run kubectl scale deployment "$deploy" --namespace "$namespace" --replicas "$replicas" ;;
esac

if [[ -n $replicas ]]; then
    run kubectl rollout status deployment "$deploy" --namespace "$namespace" --timeout 10m
fi
run kubectl get deployment "$deploy" --namespace "$namespace"
