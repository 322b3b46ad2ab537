"""Workers killed with SIGKILL and rebalanced mid-stream.

A ~10 MB corpus is fed into the watch root in random chunks while
obs-producer follows it into a 6-partition topic. Two workers share a group;
one is killed with `kill -9` at random moments (seeded, printed; CHAOS_SEED=N
reruns) and restarted, twice; a third worker joins mid-stream and one of the
originals is stopped with SIGTERM (both rebalances). The workers use a short
session timeout (6 s, the broker's minimum) so a killed member leaves the
group quickly; nothing else is tuned.

Afterwards: events equal the lines of the files exactly, no line twice,
sessions.events = lines per session (a double-advanced roll-up shows here),
message_usage totals and session roll-ups = a clean reference run, and every
observatory_worker_partition_lag sample of the surviving workers is 0 (a
revoked partition must not keep a stale lag).
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_lib as L  # noqa: E402

c = L.Check("chaos/worker_kill9_rebalance")
seed, rng = L.seed_from_env("chaos/worker_kill9_rebalance")
rid = L.run_id("wk9")
dbname, topic, group = f"obs_chaos_{rid}", f"t.chaos.{rid}", f"chaos-{rid}"
tmp = tempfile.mkdtemp(prefix="obs-chaos-wk9-")
stage, root, ckpt = os.path.join(tmp, "stage"), os.path.join(tmp, "root"), os.path.join(tmp, "ckpt")
os.makedirs(root)
FAST = {"OBS_RDKAFKA__SESSION_TIMEOUT_MS": "6000", "OBS_RDKAFKA__HEARTBEAT_INTERVAL_MS": "1000"}
procs = []


def worker(name):
    w = L.Worker(name, topic, db, group, OBS_BATCH_MAX_RECORDS="500", **FAST)
    procs.append(w)
    return w


try:
    files = L.make_corpus(stage, int(os.environ.get("CHAOS_WK9_BYTES", 6_000_000)), 1)
    burst_files = []  # staged now (the reference run reads them), copied into the root later
    for i, f in enumerate(files[:3]):
        rel = f"-burst-project/{i:08d}-0000-4000-8000-{rid[-12:].replace('_', '0'):0>12}.jsonl"
        os.makedirs(os.path.join(stage, "-burst-project"), exist_ok=True)
        shutil.copyfile(os.path.join(stage, f), os.path.join(stage, rel))
        burst_files.append(rel)
    ref = L.Reference(stage, rid).start()
    db = L.fresh_db(dbname)
    L.topics(topic, 6)
    t0 = time.monotonic()
    a, b = worker("chaos-wk9-a"), worker("chaos-wk9-b")
    prod = L.Producer("chaos-wk9-producer", topic, root, ckpt)
    procs.append(prod)
    feeder = L.Feeder(stage, root, files, rng, seconds=6).start()
    print(f"corpus: {len(files)} files, {feeder.total()} bytes, fed over ~6 s")

    def at(what):
        print(f"{time.monotonic() - t0:6.2f} s: {what} (stored {L.count_events(db)} events, "
              f"fed {feeder.written()} bytes)")
        sys.stdout.flush()

    for k in range(2):
        time.sleep(rng.uniform(1.0, 3.0))
        c.ok(a.alive(), f"worker a alive before kill #{k + 1}", a.tail(5))
        a.kill()
        at(f"kill -9 worker a (#{k + 1})")
        time.sleep(rng.uniform(0.0, 1.0))
        a = worker("chaos-wk9-a")
        at("worker a restarted")
    time.sleep(rng.uniform(0.5, 2.0))
    c3 = worker("chaos-wk9-c")
    at("worker c joins the group")
    time.sleep(rng.uniform(1.0, 3.0))
    rc = b.stop()
    at("worker b stopped with SIGTERM")
    c.eq(rc, 0, "worker b exits 0 on SIGTERM during the stream (rebalance)")

    c.ok(feeder.done.wait(60) and feeder.error is None, "corpus fully written to the watch root", feeder.error or "")
    starts, _ = L.truth(root)
    want = len(starts)
    n = L.wait_stored(db, want, 120)
    c.ok(n == want, f"all {want} lines stored ({time.monotonic() - t0:.1f} s from the start)",
         f"(stored {n})\n{a.tail(5)}{c3.tail(5)}")
    L.assert_exact(c, root, db)
    c.eq(L.dlq_count(topic), 0, "nothing in the DLQ")

    # Per-partition lag on the admin port. Make a worker lose partitions
    # while it still has lag: c leaves (a owns all 6), a burst of new lines
    # arrives, and while a reports lag a fourth worker d joins and takes
    # some of a's partitions. After d drains them, every sample of a and d
    # must be 0 - a revoked partition must not keep its last lag.
    c.eq(c3.stop(), 0, "worker c exits 0 on SIGTERM")
    L.wait_for(lambda: L.metric_values(a.metrics(), "observatory_worker_partition_lag").keys() >=
               {f'{{partition="{p}"}}' for p in range(6)}, 15, 0.3)
    burst = 0
    os.makedirs(os.path.join(root, "-burst-project"), exist_ok=True)
    for rel in burst_files:
        shutil.copyfile(os.path.join(stage, rel), os.path.join(root, rel))
        burst += os.path.getsize(os.path.join(stage, rel))
    at(f"burst of {burst} bytes appended")
    lagging = L.wait_for(lambda: {k for k, v in L.metric_values(a.metrics(),
                                                                 "observatory_worker_partition_lag").items() if v > 0},
                         15, 0.2)
    d = worker("chaos-wk9-d")
    at(f"worker d joins while a reports lag on {sorted(lagging or [])}")
    starts, _ = L.truth(root)
    want = len(starts)
    n = L.wait_stored(db, want, 90)
    c.ok(n == want, f"burst stored too ({want} lines)", f"(stored {n})")

    def lags():
        return {w.name: L.metric_values(w.metrics(), "observatory_worker_partition_lag") for w in (a, d)}

    ok = L.wait_for(lambda: all(v and all(x == 0 for x in v.values()) for v in lags().values()), 10, 0.5)
    got = lags()
    print("partition_lag after the stream:", got)
    c.ok(ok, "observatory_worker_partition_lag is 0 for every partition of every surviving worker "
             "(revoked partitions cleared)", str(got))
    parts = set().union(*[set(v) for v in got.values()])
    c.ok(parts <= {f'{{partition="{p}"}}' for p in range(6)} and len(parts) >= 1,
         "partition_lag samples are labelled partition=\"0..5\"", str(parts))
    L.assert_exact(c, root, db, "after the burst")
    for w in (a, d):
        c.eq(w.stop(), 0, f"{w.name} exits 0 on SIGTERM")
    c.eq(prod.stop(), 0, "producer exits 0 on SIGTERM")
    L.compare_reference(c, db, ref.result())
finally:
    for p in procs:
        p.kill()
    L.drop_db(dbname)
    shutil.rmtree(tmp, ignore_errors=True)
print(f"seed {seed}")
c.finish()
