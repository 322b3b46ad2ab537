# tests/lib/stack.sh - sourced by the test runner and the test scripts.
# Starts (or reuses) the real services and gives each test its own
# database and topics so tests never see each other's data.
#
#   obs_stack_up            start Kafka and PostgreSQL unless KAFKA_BOOTSTRAP /
#                           DATABASE_URL point at existing ones; exports both
#   obs_stack_down          stop only what obs_stack_up started
#   obs_test_db NAME        create a fresh database NAME, migrate it, print its URL
#   obs_test_topics PREFIX  create PREFIX and PREFIX.dlq topics, print PREFIX

OBS_REPO=${OBS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OBS_BUILD=${OBS_BUILD:-build}
OBS_BIN=${OBS_BIN:-$OBS_REPO/$OBS_BUILD/bin}
OBS_STARTED_KAFKA=${OBS_STARTED_KAFKA:-0}
OBS_STARTED_PG=${OBS_STARTED_PG:-0}

obs_stack_up() {
    if [ -z "${KAFKA_BOOTSTRAP:-}" ]; then
        bash "$OBS_REPO/ops/local/kafka.sh" fetch || return 1
        if ! bash "$OBS_REPO/ops/local/kafka.sh" status | grep -q running; then
            bash "$OBS_REPO/ops/local/kafka.sh" start || return 1
            OBS_STARTED_KAFKA=1
        fi
        KAFKA_BOOTSTRAP=127.0.0.1:${OBS_KAFKA_PORT:-19092}
    fi
    if [ -z "${DATABASE_URL:-}" ]; then
        if ! bash "$OBS_REPO/ops/local/pg.sh" status | grep -q running; then
            bash "$OBS_REPO/ops/local/pg.sh" start || return 1
            OBS_STARTED_PG=1
        fi
        DATABASE_URL=$(bash "$OBS_REPO/ops/local/pg.sh" url)
    fi
    export KAFKA_BOOTSTRAP DATABASE_URL OBS_STARTED_KAFKA OBS_STARTED_PG
}

obs_stack_down() {
    [ "${OBS_KEEP_STACK:-0}" = 1 ] && return 0
    [ "$OBS_STARTED_KAFKA" = 1 ] && bash "$OBS_REPO/ops/local/kafka.sh" stop
    [ "$OBS_STARTED_PG" = 1 ] && bash "$OBS_REPO/ops/local/pg.sh" stop
    return 0
}

# URL of database $1 on the same server as DATABASE_URL.
obs_db_url() {
    python3 - "$DATABASE_URL" "$1" <<'PY'
import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, p.fragment)))
PY
}

obs_test_db() {
    local name=$1 url
    psql "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" \
        -c "CREATE DATABASE \"$name\"" >/dev/null || return 1
    url=$(obs_db_url "$name")
    DATABASE_URL=$url "$OBS_BIN/obsctl" migrate --dir "$OBS_REPO/migrations" 2>/dev/null || return 1
    echo "$url"
}

obs_test_topics() {
    local prefix=$1
    OBS_KAFKA_TOPIC=$prefix OBS_KAFKA_DLQ_TOPIC=$prefix.dlq "$OBS_BIN/obsctl" topics ensure \
        --partitions "${2:-3}" 2>/dev/null || return 1
    echo "$prefix"
}

# wait_until TIMEOUT_S CMD...: poll CMD every 0.2 s until it succeeds.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ $SECONDS -ge $deadline ] && return 1
        sleep 0.2
    done
}
