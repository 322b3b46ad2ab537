# bench/lib.sh - shared by the benchmark scripts (sourced).
#
# measure NAME CMD... : run CMD under /usr/bin/time, record wall seconds,
# CPU seconds (user+sys) and peak RSS (MiB) into MEAS_<NAME>_{WALL,CPU,RSS}.
# json_metric ...     : append one figure to the results array file.
# precreate_days DIR DB: the events/tool_calls day partitions of every day a
#                       transcript under DIR names, and today's (lines without
#                       a timestamp), as `obsctl partitions maintain` keeps
#                       them ahead in production and the baseline gets them.
set -euo pipefail
BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$BENCH_REPO/tests/lib/stack.sh"

measure() {
    local name=$1 tf
    shift
    tf=$(mktemp)
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -f '%U %S %M' -o "$tf" "$@"
    t1=$(date +%s.%N)
    read -r u s m <"$tf"
    rm -f "$tf"
    printf -v "MEAS_${name}_WALL" '%s' "$(echo "$t1 - $t0" | bc -l)"
    printf -v "MEAS_${name}_CPU" '%s' "$(echo "$u + $s" | bc -l)"
    printf -v "MEAS_${name}_RSS" '%s' "$(echo "$m / 1024" | bc -l)"
}

# json_metric FILE metric value baseline baseline_value goal_ratio peak_rss_mib command [route]
json_metric() {
    python3 - "$@" <<'PY'
import json, os, sys
f, metric, value, baseline, bvalue, goal, rss, cmd = sys.argv[1:9]
route = sys.argv[9] if len(sys.argv) > 9 else None
rows = json.load(open(f)) if os.path.exists(f) and os.path.getsize(f) else []
value, bvalue = float(value), float(bvalue)
row = {"metric": metric, "value": round(value, 3), "baseline": baseline,
       "baseline_value": round(bvalue, 3), "ratio": round(value / bvalue, 3) if bvalue else None,
       "goal_ratio": float(goal), "peak_rss_mib": round(float(rss), 1), "command": cmd}
if route:
    row["route"] = route
rows.append(row)
json.dump(rows, open(f, "w"), indent=2)
print(f"  {metric:24} {value:14.1f}  {baseline} {bvalue:14.1f}  ratio {row['ratio']}  (goal {goal})")
PY
}

# precreate_days DIR DB (see the top)
precreate_days() {
    { grep -rhoE '"timestamp":"[0-9]{4}-[0-9]{2}-[0-9]{2}' "$1" | cut -c14-; date -u +%F; } | sort -u |
        awk '{printf "SELECT obs_ensure_day_partition(%s, %s::date), obs_ensure_day_partition(%s, %s::date);\n",
              "\047events\047", "\047" $1 "\047", "\047tool_calls\047", "\047" $1 "\047"}' |
        psql "$2" -qtAX >/dev/null
}

# wait_stored DB LINES PID: poll until the session roll-ups count LINES
# events (they are committed with the events rows; count(*) over events
# would cost the database more as it grows), every 0.2 s on ONE psql
# connection, a coprocess. A new psql per poll (process and backend start)
# took ~7 % of this 2-vCPU machine in `perf record -a` during quick.sh, CPU
# taken from the worker and PostgreSQL being measured. Fails when PID (the
# first worker) exits. Prints the peak VmHWM of PID in MiB when done.
wait_stored() {
    local db=$1 want=$2 pid=$3 got=0 rss=0 k v _
    coproc PROGRESS { psql "$db" -qtAX; }
    while :; do
        echo "SELECT coalesce(sum(events), 0) FROM sessions;" >&"${PROGRESS[1]}"
        read -r -t 60 got <&"${PROGRESS[0]}" || { echo "wait_stored: no answer from PostgreSQL" >&2; return 1; }
        if [ -r "/proc/$pid/status" ]; then
            while read -r k v _; do
                [ "$k" = "VmHWM:" ] && { ((v / 1024 > rss)) && rss=$((v / 1024)); break; }
            done <"/proc/$pid/status"
        fi
        [ "$got" -ge "$want" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "wait_stored: worker $pid exited" >&2; return 1; }
        sleep 0.2
    done
    exec {PROGRESS[1]}>&-
    wait "$PROGRESS_PID" 2>/dev/null || true
    echo "$rss"
}
