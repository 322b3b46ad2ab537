#!/usr/bin/env bash
# ops/local/demo.sh — make demo: start the stack, ingest the transcripts
# under ~/.claude/projects (or, when there are none, a copy of the samples
# in tests/fixtures/projects), wait until every line is stored, then print
# what was ingested, the top sessions by cost, the API address, a ready API
# key and a curl line to try. The stack keeps running: `make down` stops it.
set -euo pipefail
PROG=demo
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$OBS_LOCAL_DIR/programs.sh"

case "${1:-}" in
    -h | --help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

root=$HOME/.claude/projects
if [ -z "$(find "$root" -name '*.jsonl' -print -quit 2>/dev/null)" ]; then
    root=$OBS_RUN_DIR/demo/projects
    if [ ! -d "$root" ]; then
        ensure_dir "$OBS_RUN_DIR/demo"
        cp -r "$OBS_REPO/tests/fixtures/projects" "$root"
    fi
    echo "demo: no transcripts under ~/.claude/projects; using the shipped samples (copied to $root)"
else
    echo "demo: ingesting your transcripts under $root"
fi

OBS_DEMO_ROOT=$root bash "$OBS_LOCAL_DIR/up.sh"
KAFKA_BOOTSTRAP=${KAFKA_BOOTSTRAP:-$(bash "$OBS_LOCAL_DIR/kafka.sh" address)}
DATABASE_URL=${DATABASE_URL:-$(bash "$OBS_LOCAL_DIR/pg.sh" url)}
api=http://${OBS_HTTP_LISTEN:-127.0.0.1:8080}

# Every complete line (newline-terminated) is one event.
expected=$(find "$root" -name '*.jsonl' -print0 | xargs -0 -r cat | wc -l)
echo "demo: waiting for $expected lines to be stored"
deadline=$((SECONDS + ${OBS_DEMO_TIMEOUT:-300}))
last=-1
while :; do
    got=$(psql "$DATABASE_URL" -qtAX -c "SELECT count(*) FROM events WHERE tenant = 'default'" 2>/dev/null || echo 0)
    [ "$got" -ge "$expected" ] && break
    if [ "$got" != "$last" ]; then
        echo "demo: $got / $expected lines stored"
        last=$got
    fi
    [ $SECONDS -ge $deadline ] && die "only $got of $expected lines stored after ${OBS_DEMO_TIMEOUT:-300}s; see $OBS_RUN_DIR/logs/"
    sleep 0.5
done

keyfile=$OBS_RUN_DIR/demo/api-key
ensure_dir "$OBS_RUN_DIR/demo"
if [ ! -s "$keyfile" ]; then
    DATABASE_URL=$DATABASE_URL "$OBS_BIN/obsctl" apikey create --tenant default --name demo >"$keyfile" 2>/dev/null
fi
key=$(cat "$keyfile")

python3 - "$api" "$key" "$expected" <<'PY'
import json, sys, urllib.request
api, key, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
def get(path):
    req = urllib.request.Request(api + path, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)
sessions, cursor = [], None
while True:
    page = get("/api/v1/sessions?limit=500" + ("&cursor=" + cursor if cursor else ""))
    sessions += page["sessions"]
    cursor = page.get("next_cursor")
    if not cursor:
        break
events = sum(s["events"] for s in sessions)
tokens = sum(s["total_tokens"] for s in sessions)
cost = sum(s["cost_usd"] for s in sessions)
print()
print(f"Ingested {len(sessions)} sessions, {events} events ({expected} lines in the files), "
      f"{tokens:,} tokens, ${cost:,.4f}")
print()
print("Top sessions by cost:")
print(f"  {'session':38} {'project':34} {'events':>6} {'tokens':>12} {'cost USD':>10}")
for s in sorted(sessions, key=lambda s: s["cost_usd"], reverse=True)[:5]:
    proj = (s.get("project") or "")[-34:]
    print(f"  {s['session_id']:38} {proj:34} {s['events']:>6} {s['total_tokens']:>12,} {s['cost_usd']:>10.4f}")
print()
print(f"API:      {api}   (health: {api}/healthz, metrics: {api}/metrics)")
print(f"API key:  {key}   (tenant 'default')")
print(f"Try:      curl -s -H 'Authorization: Bearer {key}' '{api}/api/v1/sessions?limit=5'")
print("Stop with: make down")
PY
