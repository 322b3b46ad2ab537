"""A rebalance while PostgreSQL is down (the runner's local server only).

One worker holds every partition of a topic that already carries a whole
corpus and has stored part of it. The server is stopped; once the worker
reports db_up 0 (its batch failed, its partitions are paused), a second
worker joins the group, so the partitions are revoked and assigned again
while nothing can be stored. Then the server comes back. Every line of the
files must be stored exactly once: events equal the line starts of the
files, sessions.events the lines per session, nothing in the DLQ.

Found by test_pg_restart.py when its second worker happened to join during
the outage: one record was lost in each of five runs (docs/workers.md).
Only when DATABASE_URL is the local server of ops/local/pg.sh; otherwise a
SKIP line.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_lib as L  # noqa: E402

c = L.Check("chaos/rebalance_db_down")
if not L.local_pg():
    print("SKIP: chaos/rebalance_db_down: DATABASE_URL is not the running local server of ops/local/pg.sh "
          "(127.0.0.1:15432); not restarting someone else's PostgreSQL")
    c.finish()
seed, rng = L.seed_from_env("chaos/rebalance_db_down")
rid = L.run_id("rdd")
dbname, topic = f"obs_chaos_{rid}", f"t.chaos.{rid}"
tmp = tempfile.mkdtemp(prefix="obs-chaos-rdd-")
stage, root, ckpt = os.path.join(tmp, "stage"), os.path.join(tmp, "root"), os.path.join(tmp, "ckpt")
os.makedirs(root)
PG = ["bash", os.path.join(L.REPO, "ops", "local", "pg.sh")]
procs = []
pg_down = False


def metric(w, name):
    v = L.metric_values(w.metrics(), name)
    return v.get("", v.get("{}"))


try:
    files = L.make_corpus(stage, int(os.environ.get("CHAOS_RDD_BYTES", 30_000_000)), 1)
    db = L.fresh_db(dbname)
    L.topics(topic, 6)
    group = f"chaos-{rid}"
    # The whole corpus is on the topic before any worker starts.
    prod = L.Producer("chaos-rdd-producer", topic, root, ckpt)
    procs.append(prod)
    feeder = L.Feeder(stage, root, files, rng, seconds=1).start()
    c.ok(feeder.done.wait(60) and feeder.error is None, "corpus written to the watch root", feeder.error or "")
    starts, _ = L.truth(root)
    want = len(starts)
    c.ok(L.wait_for(lambda: (metric(prod, "observatory_producer_lines_total") or 0) >= want, 60, 0.2),
         f"the producer published all {want} lines")
    a = L.Worker("chaos-rdd-a", topic, db, group, OBS_BATCH_MAX_RECORDS="500")
    procs.append(a)
    first = rng.randint(300, 1500)
    c.ok(L.wait_for(lambda: L.count_events(db) >= first, 60, 0.05),
         f"worker a alone stores part of the stream (>= {first} events)")
    print(f"pg.sh stop (stored {L.count_events(db)})")
    pg_down = True
    r = subprocess.run(PG + ["stop"], capture_output=True, text=True, timeout=60)
    c.ok(r.returncode == 0, "pg.sh stop", r.stderr)
    c.ok(L.wait_for(lambda: metric(a, "observatory_worker_db_up") == 0, 15, 0.1),
         "worker a reports db_up 0 (its batch failed, partitions paused)")
    marks = {}
    for name in ("chaos-rdd-a", "chaos-rdd-b"):  # the logs are appended to across runs
        path = os.path.join(L.REPO, ".run", "test-logs", name + ".log")
        marks[name] = os.path.getsize(path) if os.path.exists(path) else 0
    b = L.Worker("chaos-rdd-b", topic, db, group, OBS_BATCH_MAX_RECORDS="500")
    procs.append(b)

    def since(w):
        with open(w.log_path, "rb") as f:
            f.seek(marks[w.name])
            return f.read().decode("utf-8", "replace")

    # b joins: the group rebalances while the database is down (the
    # coordinator waits for a's next poll, which wait_for_db makes).
    c.ok(L.wait_for(lambda: "revoked" in since(a) and "assigned" in since(b), 60, 0.2),
         "the group rebalanced (a revoked, b assigned) while the server was down", a.tail(5) + b.tail(5))
    c.ok(metric(a, "observatory_worker_db_up") == 0, "the server is still down after the rebalance")
    time.sleep(1.0)
    r = subprocess.run(PG + ["start"], capture_output=True, text=True, timeout=120)
    pg_down = r.returncode != 0
    c.ok(r.returncode == 0, "pg.sh start", r.stderr)
    n = L.wait_stored(db, want, 120)
    c.ok(n == want, f"all {want} lines stored", f"(stored {n})\n" + a.tail(8) + b.tail(8))
    L.assert_exact(c, root, db)
    c.eq(L.dlq_count(topic), 0, "nothing in the DLQ topic")
    for w in (a, b):
        c.eq(w.stop(), 0, f"{w.name} exits 0 on SIGTERM")
    c.eq(prod.stop(), 0, "producer exits 0 on SIGTERM")
finally:
    if pg_down:
        subprocess.run(PG + ["start"], capture_output=True, timeout=120)
    for p in procs:
        p.kill()
    L.drop_db(dbname)
    shutil.rmtree(tmp, ignore_errors=True)
print(f"seed {seed}")
c.finish()
