#!/usr/bin/env bash
# rollback.sh - roll the Observatory Helm release back to an earlier revision
# (ops/runbooks/rollback.md).
#
# Only the application is rolled back. The schema never is: migrations are
# expand/contract, so the previous release runs on the newer schema, and the
# migrations hook is pre-install/pre-upgrade only, so `helm rollback` does not
# touch the database.
set -euo pipefail

PROG="rollback.sh"
# shellcheck source=ops/scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
    cat <<USAGE
Usage: $PROG [options] RELEASE [REVISION]

Roll Helm release RELEASE back to REVISION (default: the previous revision),
wait for the rollout, then run the release's helm test.

Options:
  -n, --namespace NS   Kubernetes namespace (default: \$OBS_NAMESPACE or observatory)
      --timeout DUR    how long to wait for the rollout (default: 10m)
      --no-test        skip 'helm test' after the rollback
      --dry-run        print the commands instead of running them
  -y, --yes            do not ask for confirmation
  -h, --help           show this help

Examples:
  $PROG observatory            # back to the previous revision
  $PROG -n obs-staging observatory 41
  $PROG --dry-run observatory 41
USAGE
}

namespace=${OBS_NAMESPACE:-observatory}
timeout=10m
run_test=1
release=""
revision=""

while (($#)); do
    case $1 in
        -n|--namespace) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; namespace=$2; shift 2 ;;
        --timeout) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; timeout=$2; shift 2 ;;
        --no-test) run_test=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -y|--yes) ASSUME_YES=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) usage_error "unknown option $1" ;;
        *)
            if [[ -z $release ]]; then release=$1
            elif [[ -z $revision ]]; then revision=$1
            else usage_error "unexpected argument $1"
            fi
            shift ;;
    esac
done

[[ -n $release ]] || usage_error "RELEASE is required"
[[ -z $revision ]] || is_uint "$revision" || usage_error "REVISION must be a revision number, not '$revision'"

need helm kubectl

log "release $release in namespace $namespace: history"
run_query helm history "$release" --namespace "$namespace" --max 10

confirm "roll $release back to ${revision:-the previous revision}?"

# helm rollback with no revision goes to the previous one.
rollback=(helm rollback "$release")
[[ -n $revision ]] && rollback+=("$revision")
rollback+=(--namespace "$namespace" --wait --timeout "$timeout" --cleanup-on-fail)
run "${rollback[@]}"

prefix=$(obs_fullname "$release")
for component in api worker; do
    run kubectl rollout status "deployment/${prefix}-${component}" \
        --namespace "$namespace" --timeout "$timeout"
done

if ((run_test)); then
    run helm test "$release" --namespace "$namespace" --logs
fi

run_query helm status "$release" --namespace "$namespace"
log "done; the schema was not touched (see ops/runbooks/rollback.md)"
