# shellcheck shell=bash
# ops/local/programs.sh — start and stop Observatory's own programs for the
# local stack (sourced by up.sh, down.sh, demo.sh and stack.sh).
#
# Each program runs detached with its pid in $OBS_RUN_DIR/<name>.pid and its
# JSON log in $OBS_RUN_DIR/logs/<name>.log. Settings come from OBS_*
# environment variables (docs/CONTRACTS.md), which the caller exports.

OBS_BIN=${OBS_BIN:-$OBS_REPO/build/bin}

# prog_start NAME CMD... — start CMD detached unless NAME already runs.
prog_start() {
    local name=$1 pidf="$OBS_RUN_DIR/$1.pid" pid
    shift
    if pid=$(read_pid "$pidf") && pid_alive "$pid"; then
        echo "$name: already running (pid $pid)"
        return 0
    fi
    ensure_dir "$OBS_RUN_DIR/logs"
    setsid nohup "$@" >>"$OBS_RUN_DIR/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$pidf"
    sleep 0.3
    if ! pid_alive "$!"; then
        echo "$name: exited at start; last log lines:" >&2
        tail -5 "$OBS_RUN_DIR/logs/$name.log" >&2
        rm -f "$pidf"
        return 1
    fi
    echo "$name: started (pid $!, log $OBS_RUN_DIR/logs/$name.log)"
}

# prog_stop NAME [TIMEOUT_S] — SIGTERM, wait, SIGKILL after the timeout.
prog_stop() {
    local name=$1 timeout=${2:-20} pidf="$OBS_RUN_DIR/$1.pid" pid
    pid=$(read_pid "$pidf") || return 0
    if pid_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_pid_gone "$pid" "$timeout"; then
            echo "$name: did not stop within ${timeout}s, killing" >&2
            kill -KILL "$pid" 2>/dev/null || true
            wait_pid_gone "$pid" 5 || true
        fi
        echo "$name: stopped"
    fi
    rm -f "$pidf"
}

OBS_PROGRAMS="obs-producer obs-worker obs-api"

# wait_http URL SECONDS — poll until URL answers 200.
wait_http() {
    local url=$1 ticks=$(($2 * 5))
    until curl -fsS -o /dev/null "$url" 2>/dev/null; do
        ((ticks-- > 0)) || return 1
        sleep 0.2
    done
}
