# ops/scripts/lib.sh - helpers sourced by every ops script (not run directly).
#
# run CMD...     execute CMD, or with DRY_RUN=1 print it (secrets masked) and
#                return 0: every script's --dry-run prints the exact commands
#                a runbook would have you type.
# need TOOL...   fail with a clear message when a tool is missing (skipped in
#                dry-run, so --dry-run works on any machine).
# kafka_args     librdkafka -X flags from the OBS_RDKAFKA__* variables the
#                programs use (docs/CONTRACTS.md), so one env file serves both.
# shellcheck shell=bash

DRY_RUN=${DRY_RUN:-0}
PROG=${PROG:-$(basename "$0")}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s (see --help)\n' "$PROG" "$*" >&2; exit 2; }

# mask_secrets WORD: hide passwords in URLs and in sasl/password properties.
mask_secrets() {
    local w=$1
    case $w in
        *://*:*@*) w=$(printf '%s' "$w" | sed -E 's#(://[^:/@]+):[^@]*@#\1:***@#') ;;
    esac
    case $w in
        *password=*|*PASSWORD=*) w="${w%%=*}=***" ;;
    esac
    printf '%s' "$w"
}

# shell_quote WORD: WORD as it would be typed (single quotes when needed).
shell_quote() {
    if [[ $1 =~ ^[A-Za-z0-9_./:=,@%+^-]+$ ]]; then
        printf '%s' "$1"
    else
        printf "'%s'" "${1//\'/\'\\\'\'}"
    fi
}

# print_cmd CMD...: the command as one copy-pasteable line on stdout, masked.
print_cmd() {
    local out="+" a
    for a in "$@"; do
        out+=" $(shell_quote "$(mask_secrets "$a")")"
    done
    printf '%s\n' "$out"
}

run() {
    if [[ $DRY_RUN == 1 ]]; then
        print_cmd "$@"
        return 0
    fi
    "$@"
}

# run_query CMD...: like run, but for read-only look-ups whose output the
# script needs; in dry-run it prints the command and outputs nothing.
run_query() {
    if [[ $DRY_RUN == 1 ]]; then
        print_cmd "$@" >&2
        return 0
    fi
    "$@"
}

need() {
    [[ $DRY_RUN == 1 ]] && return 0
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || die "'$t' is not installed or not on PATH"
    done
}

# kafka_bootstrap: the broker list from the same variables the programs read.
kafka_bootstrap() {
    printf '%s' "${OBS_KAFKA_BOOTSTRAP:-${KAFKA_BOOTSTRAP:-}}"
}

# kafka_args: -X flags from OBS_RDKAFKA__* (OBS_RDKAFKA__SASL_MECHANISMS -> sasl.mechanisms).
kafka_args() {
    local v name prop
    while IFS= read -r v; do
        name=${v%%=*}
        prop=${name#OBS_RDKAFKA__}
        prop=$(printf '%s' "$prop" | tr '[:upper:]_' '[:lower:].')
        printf -- '-X\n%s=%s\n' "$prop" "${v#*=}"
    done < <(env | grep -E '^OBS_RDKAFKA__[A-Z0-9_]+=' | sort || true)
}

# confirm MESSAGE: ask unless --yes was given (ASSUME_YES=1) or in dry-run.
confirm() {
    [[ $DRY_RUN == 1 || ${ASSUME_YES:-0} == 1 ]] && return 0
    local answer
    read -r -p "$PROG: $1 [y/N] " answer
    [[ $answer == y || $answer == Y || $answer == yes ]] || die "aborted"
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# obs_fullname RELEASE: resource name prefix the chart uses (its fullname
# rule): the release name when it contains "observatory", else
# RELEASE-observatory. Workloads are <prefix>-api, <prefix>-worker, ...
obs_fullname() {
    if [[ $1 == *observatory* ]]; then printf '%s' "$1"; else printf '%s-observatory' "$1"; fi
}
