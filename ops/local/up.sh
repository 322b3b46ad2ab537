#!/usr/bin/env bash
# ops/local/up.sh — start the whole local stack (make up): Kafka and
# PostgreSQL (unless KAFKA_BOOTSTRAP / DATABASE_URL point elsewhere),
# migrations, topics, then obs-worker, obs-api and obs-producer.
#
# The producer follows OBS_DEMO_ROOT (default ~/.claude/projects). Ports:
# api 127.0.0.1:8080 (OBS_HTTP_LISTEN), producer admin 9101, worker admin 9102.
set -euo pipefail
PROG=up
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$OBS_LOCAL_DIR/programs.sh"

case "${1:-}" in
    -h | --help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

for b in obs-producer obs-worker obs-api obsctl; do
    [ -x "$OBS_BIN/$b" ] || die "$OBS_BIN/$b is missing: run 'make' first"
done

if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
    bash "$OBS_LOCAL_DIR/kafka.sh" start
    KAFKA_BOOTSTRAP=$(bash "$OBS_LOCAL_DIR/kafka.sh" address)
fi
if [ -z "${DATABASE_URL:-}" ]; then
    bash "$OBS_LOCAL_DIR/pg.sh" start
    DATABASE_URL=$(bash "$OBS_LOCAL_DIR/pg.sh" url)
fi
export KAFKA_BOOTSTRAP DATABASE_URL

"$OBS_BIN/obsctl" migrate --dir "$OBS_REPO/migrations"
"$OBS_BIN/obsctl" topics ensure

root=${OBS_DEMO_ROOT:-$HOME/.claude/projects}
mkdir -p "$root" "$OBS_RUN_DIR/state"
export OBS_PRICES_PATH=${OBS_PRICES_PATH:-$OBS_REPO/common/model_prices.json}
export OBS_HTTP_LISTEN=${OBS_HTTP_LISTEN:-127.0.0.1:8080}

prog_start obs-worker "$OBS_BIN/obs-worker"
prog_start obs-api "$OBS_BIN/obs-api"
OBS_WATCH_ROOTS=$root OBS_CHECKPOINT_PATH=$OBS_RUN_DIR/state/producer.checkpoint \
    prog_start obs-producer "$OBS_BIN/obs-producer"

wait_http "http://$OBS_HTTP_LISTEN/readyz" 30 || die "obs-api is not ready after 30 s (see $OBS_RUN_DIR/logs/obs-api.log)"
echo "$root" >"$OBS_RUN_DIR/watch-root"
echo "stack up: api http://$OBS_HTTP_LISTEN, watching $root"
