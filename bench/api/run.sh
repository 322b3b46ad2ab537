#!/usr/bin/env bash
# bench/api/run.sh - obs-api under wrk against pgbench running the API's own
# SQL statements (printed from api/api_sql.h by print_sql.c) at the same
# concurrency against the same database.
#
#   BENCH_SESSIONS  sessions in the large database (default 100000; events =
#                   100 per session, i.e. 10 million, over 90 days)
#   BENCH_SECONDS   seconds per route and tool (default 15)
#   BENCH_CONC      concurrency: wrk connections = pgbench clients = API
#                   threads (default 4)
#   BENCH_KEEP_DB   1: keep the two databases (obs_bench_api_{small,large}_N)
#                   and reuse them on the next run with the same
#                   BENCH_SESSIONS (migrated with obsctl migrate, not
#                   regenerated); drop them by hand when done
#   BENCH_ROUTES    route names to measure (default all), e.g. "session tools"
#   BENCH_SIZES     "small large" (default) or one of them (p50 growth
#                   needs both)
# A second database with a tenth of the sessions measures how p50 grows
# from 1 to 10 million events. Writes bench/results/api.json.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$BENCH_REPO"
command -v bc >/dev/null || apt-get install -y -qq bc >/dev/null

sessions=${BENCH_SESSIONS:-100000}
secs=${BENCH_SECONDS:-15}
conc=${BENCH_CONC:-4}
keep=${BENCH_KEEP_DB:-0}
only_routes=${BENCH_ROUTES:-}
sizes=${BENCH_SIZES:-small large}
out=bench/results/api.json
work=$(mktemp -d /var/tmp/obs-bench-api.XXXXXX)
stamp=$(date +%s)
dbs=()
api_pid=
cleanup() {
    [ -n "$api_pid" ] && kill "$api_pid" 2>/dev/null || true
    for d in "${dbs[@]}"; do psql "$DATABASE_URL" -qX -c "DROP DATABASE IF EXISTS \"$d\" WITH (FORCE)" >/dev/null 2>&1 || true; done
    rm -rf "$work"
    obs_stack_down
}
trap cleanup EXIT
obs_stack_up
gcc -O2 -Iapi -o "$work/print_sql" bench/api/print_sql.c

since=$(date -u -d '-90 days' +%Y-%m-%dT%H:%M:%SZ)
week=$(date -u -d '-7 days' +%Y-%m-%dT%H:%M:%SZ)
# the first UTC midnight after $week: whole days from tool_daily, the cut day
# before it from tool_calls, as obs-api splits the window ($4/$5 of API_SQL_TOOLS)
week_day1=$(date -u -d "$(date -u -d '-7 days' +%Y-%m-%d) + 1 day" +%Y-%m-%dT00:00:00Z)
day90=$(date -u -d '-90 days' +%Y-%m-%d)
day7=$(date -u -d '-7 days' +%Y-%m-%d)
# pgbench runs in simple mode with the values as SQL literals: it has no
# notion of quotes, so the ":MI:SS" inside the API's to_char() formats must
# map to themselves (-D MI=:MI -D SS=:SS) to pass through unchanged.
# tools cuts its window at now - 7 days (the cut day is read from tool_calls),
# tools_days starts at a UTC midnight (whole days from tool_daily only).
# route name | URL path+query | print_sql statement and args | pgbench -D values
routes=(
    "sessions_list|/api/v1/sessions?limit=50&project=/src/project-7&since=$since|sessions p1 p2 NULL p4 NULL NULL p7 NULL NULL NULL NULL NULL NULL NULL|-D p1='bench' -D p2='$since' -D p4='/src/project-7' -D p7=51"
    "sessions_by_cost|/api/v1/sessions?limit=50&sort=cost|sessions_cost p1 NULL NULL NULL NULL NULL p7 NULL NULL NULL NULL NULL NULL NULL|-D p1='bench' -D p7=51"
    "session|/api/v1/sessions/s00000007|session p1 p2 + session_parts p1 p2 p3 p4|-D p1='bench' -D p2='s00000007' -D p3='@FIRST@' -D p4='@LAST@'"
    "usage_by_day|/api/v1/usage?group_by=day&since=$day90|usage_day p1 p2 NULL p4|-D p1='bench' -D p2='$day90' -D p4='day'"
    "tools|/api/v1/tools?since=$week|tools p1 p2 NULL p4 p5|-D p1='bench' -D p2='$week' -D p4='$week_day1' -D p5='infinity'"
    "tools_days|/api/v1/tools?since=$day7|tools_days p1 p2 p3|-D p1='bench' -D p2='${day7}T00:00:00Z' -D p3='infinity'"
)

# to_ms VALUE-WITH-UNIT (wrk prints 1.23ms, 850.00us, 1.02s)
to_ms() {
    case $1 in
        *us) echo "${1%us} / 1000" | bc -l ;;
        *ms) echo "${1%ms}" ;;
        *s) echo "${1%s} * 1000" | bc -l ;;
    esac
}

# bench_db N_SESSIONS LABEL: generate, start the API, measure every route.
bench_db() {
    local n=$1 label=$2 d db key port
    if [ "$keep" = 1 ] && [ "$(psql "$DATABASE_URL" -AtX -c "SELECT 1 FROM pg_database WHERE datname = 'obs_bench_api_${label}_$n'")" = 1 ]; then
        d=obs_bench_api_${label}_$n
        db=$(obs_db_url "$d")
        echo "bench/api: reusing $d (obsctl migrate)"
        DATABASE_URL=$db build/bin/obsctl migrate --dir migrations >/dev/null
        psql "$db" -qX -c "VACUUM ANALYZE" >/dev/null
    else
        if [ "$keep" = 1 ]; then
            d=obs_bench_api_${label}_$n
        else
            d=obs_bench_api_${label}_$stamp
            dbs+=("$d")
        fi
        db=$(obs_test_db "$d")
        echo "bench/api: generating $n sessions, $((n * 100)) events ($label)"
        psql "$db" -qX -v sessions="$n" -v days=90 -v per_session=100 -f bench/api/gen.sql >/dev/null
    fi
    key=$(DATABASE_URL=$db build/bin/obsctl apikey create --tenant bench 2>/dev/null)
    # The detail route's second statement takes the session's time span,
    # which the API reads with the first one.
    local span first last
    span=$(psql "$db" -AtX -c "SELECT to_char(first_event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
        to_char(last_event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM sessions
        WHERE tenant = 'bench' AND session_id = 's00000007'")
    first=${span%%|*}
    last=${span##*|}
    port=$((20000 + RANDOM % 20000))
    DATABASE_URL=$db OBS_HTTP_LISTEN=127.0.0.1:$port OBS_HTTP_THREADS=$conc OBS_LOG_LEVEL=warn \
        build/bin/obs-api >"$work/api-$label.log" 2>&1 &
    api_pid=$!
    wait_until 30 curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz"
    printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$key" >"$work/auth.lua"
    local r name path sqlargs dvals
    for r in "${routes[@]}"; do
        IFS='|' read -r name path sqlargs dvals <<<"$r"
        if [ -n "$only_routes" ] && [[ " $only_routes " != *" $name "* ]]; then continue; fi
        dvals=${dvals//@FIRST@/$first}
        dvals=${dvals//@LAST@/$last}
        # shellcheck disable=SC2086
        "$work/print_sql" $sqlargs >"$work/$name.sql"
        local w
        w=$(wrk -t 2 -c "$conc" -d "${secs}s" --latency -s "$work/auth.lua" "http://127.0.0.1:$port$path")
        local non2xx
        non2xx=$(echo "$w" | awk '/Non-2xx/ {print $NF}')
        [ -z "$non2xx" ] || { echo "bench/api: $name answered non-2xx responses: $non2xx" >&2; exit 1; }
        WRK_RPS[$label.$name]=$(echo "$w" | awk '/Requests\/sec/ {print $2}')
        WRK_P50[$label.$name]=$(to_ms "$(echo "$w" | awk '$1 == "50%" {print $2}')")
        WRK_P99[$label.$name]=$(to_ms "$(echo "$w" | awk '$1 == "99%" {print $2}')")
        rm -f "$work"/pgbench_log.*
        # shellcheck disable=SC2086
        (cd "$work" && pgbench -n -M simple -c "$conc" -j 2 -T "$secs" -l -D MI=:MI -D SS=:SS $dvals -f "$name.sql" "$db" >"$work/pgb.out" 2>&1) ||
            { echo "bench/api: pgbench failed for $name:" >&2; tail -5 "$work/pgb.out" >&2; exit 1; }
        PGB_RPS[$label.$name]=$(awk '/^tps/ {print $3}' "$work/pgb.out")
        read -r p50 p99 < <(cat "$work"/pgbench_log.* | awk '{print $3 / 1000}' | sort -n |
            awk '{a[NR] = $1} END {print a[int(NR * 0.5) + 1], a[int(NR * 0.99) + 1]}')
        PGB_P50[$label.$name]=$p50
        PGB_P99[$label.$name]=$p99
        API_RSS=$(awk '/VmHWM/ {print int($2 / 1024)}' "/proc/$api_pid/status")
        printf 'bench/api: %-6s %-14s api %8.0f req/s p50 %7.2f ms p99 %7.2f ms | pgbench %8.0f tps p50 %7.2f ms p99 %7.2f ms\n' \
            "$label" "$name" "${WRK_RPS[$label.$name]}" "${WRK_P50[$label.$name]}" "${WRK_P99[$label.$name]}" \
            "${PGB_RPS[$label.$name]}" "${PGB_P50[$label.$name]}" "${PGB_P99[$label.$name]}"
    done
    kill -TERM "$api_pid"
    wait "$api_pid" || true
    api_pid=
}

declare -A WRK_RPS WRK_P50 WRK_P99 PGB_RPS PGB_P50 PGB_P99
API_RSS=0
[[ " $sizes " == *" small "* ]] && bench_db $((sessions / 10)) small
[[ " $sizes " == *" large "* ]] && bench_db "$sessions" large
if [ -n "$only_routes" ] || [ "$sizes" != "small large" ]; then
    echo "bench/api: partial run (BENCH_ROUTES/BENCH_SIZES): $out not written"
    exit 0
fi

rm -f "$out"
cmd="make bench-api  # BENCH_SESSIONS=$sessions BENCH_SECONDS=$secs BENCH_CONC=$conc: wrk -c $conc vs pgbench -c $conc"
for r in "${routes[@]}"; do
    name=${r%%|*}
    json_metric "$out" requests_per_s "${WRK_RPS[large.$name]}" pgbench "${PGB_RPS[large.$name]}" 0.7 "$API_RSS" "$cmd" "$name"
    json_metric "$out" p99_ms "${WRK_P99[large.$name]}" pgbench "${PGB_P99[large.$name]}" 2.0 "$API_RSS" "$cmd  # goal: ratio at most 2" "$name"
    json_metric "$out" p50_ms_10x_data "${WRK_P50[large.$name]}" api_p50_at_tenth "${WRK_P50[small.$name]}" 1.5 "$API_RSS" "$cmd  # p50 at $((sessions * 100)) events vs $((sessions * 10)) events; goal: ratio at most 1.5" "$name"
done
echo "bench/api: wrote $out"
