#!/usr/bin/env bash
# bench/workers/freshness.sh OUT STAMP - time from a line appended to a
# followed transcript until it is visible through the API, under a steady
# append rate (BENCH_FRESH_RATE lines/s, BENCH_FRESH_LINES lines). Appends
# freshness_p50_ms and freshness_p99_ms to OUT. Needs the stack up
# (KAFKA_BOOTSTRAP, DATABASE_URL exported by bench/lib.sh).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
cd "$BENCH_REPO"
out=$1
stamp=$2
python3 - "$out" "$stamp" <<'PY'
import json, os, subprocess, sys, tempfile, threading, time
sys.path.insert(0, "tests/lib")
from obs_e2e import BIN, REPO, Proc, create_api_key, drop_db, free_port, fresh_db, http_get, topics, wait_for
out, stamp = sys.argv[1], sys.argv[2]
rate = float(os.environ.get("BENCH_FRESH_RATE", "20"))
n = int(os.environ.get("BENCH_FRESH_LINES", "400"))
tmp = tempfile.mkdtemp()
root = os.path.join(tmp, "projects", "-bench-fresh")
os.makedirs(root)
name = f"obs_bench_fresh_{stamp}"
db = fresh_db(name)
topic = topics(f"bench.fresh.{stamp}", 3)
port = free_port()
env = {"DATABASE_URL": db, "OBS_KAFKA_TOPIC": topic, "OBS_KAFKA_DLQ_TOPIC": topic + ".dlq"}
procs = [Proc("fresh-worker", [os.path.join(BIN, "obs-worker")], dict(env, OBS_KAFKA_GROUP="fresh-" + stamp,
              OBS_ADMIN_LISTEN="off", OBS_PRICES_PATH=os.path.join(REPO, "common/model_prices.json"))),
         Proc("fresh-api", [os.path.join(BIN, "obs-api")], dict(env, OBS_HTTP_LISTEN=f"127.0.0.1:{port}")),
         Proc("fresh-producer", [os.path.join(BIN, "obs-producer")], dict(env, OBS_WATCH_ROOTS=os.path.dirname(root),
              OBS_CHECKPOINT_PATH=os.path.join(tmp, "ckpt"), OBS_ADMIN_LISTEN="off"))]
try:
    api = f"http://127.0.0.1:{port}"
    wait_for(lambda: http_get(api + "/readyz")[0] == 200, 30)
    key = create_api_key(db, "default")
    sid = "f0000000-0000-4000-8000-" + stamp[-12:].rjust(12, "0")
    path = os.path.join(root, sid + ".jsonl")
    appended = []
    def writer():
        with open(path, "a", buffering=1) as f:
            for i in range(n):
                line = {"type": "user", "sessionId": sid, "uuid": f"00000000-0000-4000-8000-{i:012d}",
                        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                        "cwd": "/bench", "message": {"role": "user", "content": f"line {i}"}}
                f.write(json.dumps(line) + "\n")
                appended.append(time.monotonic())
                time.sleep(1 / rate)
    t = threading.Thread(target=writer)
    t.start()
    seen, lat = 0, []
    deadline = time.monotonic() + n / rate + 60
    while seen < n and time.monotonic() < deadline:
        st, body, _ = http_get(f"{api}/api/v1/sessions/{sid}", key)
        now = time.monotonic()
        if st == 200:
            k = body["session"]["events"]
            for i in range(seen, min(k, len(appended))):
                lat.append((now - appended[i]) * 1000)
            seen = max(seen, min(k, len(appended)))
        time.sleep(0.01)
    t.join()
    lat.sort()
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    rows = json.load(open(out)) if os.path.exists(out) else []
    cmd = f"make bench-workers  # freshness: {n} lines at {rate:g}/s appended to a followed file, polled via the API"
    for metric, v, goal in (("freshness_p50_ms", p50, 300), ("freshness_p99_ms", p99, 1000)):
        rows.append({"metric": metric, "value": round(v, 1), "baseline": "goal_ms", "baseline_value": goal,
                     "ratio": round(v / goal, 3), "goal_ratio": 1.0, "peak_rss_mib": None, "command": cmd})
        print(f"  {metric:24} {v:10.1f} ms (goal {goal} ms, {len(lat)} lines measured)")
    json.dump(rows, open(out, "w"), indent=2)
finally:
    for p in procs:
        p.stop()
    drop_db(name)
PY
