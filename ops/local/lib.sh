# shellcheck shell=bash
# ops/local/lib.sh — helpers shared by the ops/local scripts (sourced, not run).
#
# Sets OBS_REPO (the working tree holding this ops/ directory), OBS_RUN_DIR
# (${OBS_RUN:-$OBS_REPO/.run}) and OBS_CACHE_DIR (${OBS_CACHE:-$OBS_REPO/.cache})
# and provides die/pid helpers. The caller sets PROG (used in messages).

OBS_LOCAL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
OBS_REPO=$(cd "$OBS_LOCAL_DIR/../.." && pwd -P)
OBS_RUN_DIR=${OBS_RUN:-$OBS_REPO/.run}
OBS_CACHE_DIR=${OBS_CACHE:-$OBS_REPO/.cache}

# die MESSAGE... — one line on stderr, exit 1.
die() {
    printf '%s: %s\n' "${PROG:-ops}" "$*" >&2
    exit 1
}

# usage_error MESSAGE — one line on stderr, exit 2.
usage_error() {
    printf '%s: %s (try --help)\n' "${PROG:-ops}" "$*" >&2
    exit 2
}

# abs_path PATH — absolute path without requiring it to exist.
abs_path() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd -P)" "$1" ;;
    esac
}

OBS_RUN_DIR=$(abs_path "$OBS_RUN_DIR")
OBS_CACHE_DIR=$(abs_path "$OBS_CACHE_DIR")

# pid_alive PID — true when PID is a live process (not a zombie).
pid_alive() {
    local pid=$1 state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || [[ -d /proc/$pid ]] || return 1
    state=$(awk '/^State:/ {print $2; exit}' "/proc/$pid/status" 2>/dev/null || true)
    [[ $state != Z && $state != X ]]
}

# pid_cmdline_has PID TEXT — true when PID's command line contains TEXT.
pid_cmdline_has() {
    local pid=$1 text=$2 cmd
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$text"* ]]
}

# read_pid FILE — print the first line of a pid file if it is a number.
read_pid() {
    local pid=""
    [[ -r $1 ]] || return 1
    IFS= read -r pid <"$1" || true
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    printf '%s\n' "$pid"
}

# tcp_open HOST PORT — true when something accepts TCP connections there.
tcp_open() {
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_pid_gone PID SECONDS — poll (0.2 s) until PID is gone; false on timeout.
wait_pid_gone() {
    local pid=$1 ticks=$(($2 * 5))
    while pid_alive "$pid"; do
        ((ticks-- > 0)) || return 1
        sleep 0.2
    done
}

# ensure_dir DIR — mkdir -p with mode 0755 for every directory created, so an
# unprivileged service user can traverse it even under a strict umask.
ensure_dir() {
    (umask 022 && mkdir -p "$1")
}
