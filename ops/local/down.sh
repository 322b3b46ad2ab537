#!/usr/bin/env bash
# ops/local/down.sh — stop everything the local stack runs (make down): the
# Observatory programs first (SIGTERM: they flush and commit), then the
# Kafka broker and PostgreSQL. Leaves no process behind; data stays in .run/.
set -euo pipefail
PROG=down
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$OBS_LOCAL_DIR/programs.sh"

case "${1:-}" in
    -h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

for p in obs-producer obs-worker obs-api; do prog_stop "$p"; done
bash "$OBS_LOCAL_DIR/kafka.sh" stop
bash "$OBS_LOCAL_DIR/pg.sh" stop
