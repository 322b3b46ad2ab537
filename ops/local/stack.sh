#!/usr/bin/env bash
# ops/local/stack.sh — one view of the local Observatory stack: the Kafka
# broker and PostgreSQL cluster run by ops/local/{kafka,pg}.sh, plus every
# program that left a pid file in the run directory (.run/*.pid).
set -euo pipefail

PROG=stack
# shellcheck source=ops/local/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if [[ -f $OBS_LOCAL_DIR/programs.sh ]]; then
    # shellcheck source=ops/local/programs.sh
    . "$OBS_LOCAL_DIR/programs.sh"
fi

usage() {
    cat <<EOF
Usage: ops/local/stack.sh COMMAND

Commands:
  status   one line each: kafka and postgres (running/stopped, pid, address),
           then each \$OBS_RUN/*.pid file (program name, pid, alive/dead),
           then "stopped" for each program of programs.sh (OBS_PROGRAMS)
           that has no pid file. Always exits 0.
  start    start kafka and postgres (ops/local/kafka.sh start; pg.sh start)
  stop     stop postgres and kafka

Environment: as for ops/local/kafka.sh and ops/local/pg.sh (OBS_RUN,
OBS_CACHE, OBS_KAFKA_PORT, OBS_KAFKA_CONTROLLER_PORT, OBS_PG_PORT, ...).

Example output:
  kafka: running pid 4242 127.0.0.1:19092 (Kafka 4.3.1)
  postgres: running pid 4343 postgresql://observatory@127.0.0.1:15432/observatory
  obs-worker: alive pid 4444
  obs-api: dead pid 4545 (stale pid file $OBS_RUN_DIR/obs-api.pid)
EOF
}

cmd_status() {
    "$OBS_LOCAL_DIR/kafka.sh" status || true
    "$OBS_LOCAL_DIR/pg.sh" status || true
    local f name pid
    shopt -s nullglob
    for f in "$OBS_RUN_DIR"/*.pid; do
        name=$(basename "$f" .pid)
        if ! pid=$(read_pid "$f"); then
            echo "$name: dead (unreadable pid file $f)"
        elif pid_alive "$pid"; then
            echo "$name: alive pid $pid"
        else
            echo "$name: dead pid $pid (stale pid file $f)"
        fi
    done
    # Observatory programs the stack knows of (programs.sh) without a pid file.
    for name in ${OBS_PROGRAMS:-}; do
        [[ -e $OBS_RUN_DIR/$name.pid ]] || echo "$name: stopped (no pid file)"
    done
}

case ${1:-} in
    status) cmd_status ;;
    start) "$OBS_LOCAL_DIR/kafka.sh" start && "$OBS_LOCAL_DIR/pg.sh" start ;;
    stop)
        rc=0
        "$OBS_LOCAL_DIR/pg.sh" stop || rc=$?
        "$OBS_LOCAL_DIR/kafka.sh" stop || rc=$?
        exit "$rc"
        ;;
    -h | --help | help) usage ;;
    "") usage_error "missing command: status|start|stop" ;;
    *) usage_error "unknown command '$1': status|start|stop" ;;
esac
