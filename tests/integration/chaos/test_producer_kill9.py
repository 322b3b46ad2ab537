"""obs-producer killed with SIGKILL at random moments during a ~30 MB ingest.

A generated corpus (bench/gen_corpus.py) is copied into a temporary watch
root in random chunks over ~8 s (lines cut anywhere, so files grow with
partial last lines). Two workers consume the topic. obs-producer runs in
follow mode and is killed with `kill -9` five times at random moments
(seeded; the seed is printed, CHAOS_SEED=N reruns it), restarted each time
with the same checkpoint. Afterwards the stored events must equal the lines
of the files exactly (computed here from the files), sessions.events must
agree, and message_usage / session roll-ups must equal a clean reference run.
"""
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_lib as L  # noqa: E402

c = L.Check("chaos/producer_kill9")
seed, rng = L.seed_from_env("chaos/producer_kill9")
rid = L.run_id("pk9")
dbname, topic = f"obs_chaos_{rid}", f"t.chaos.{rid}"
tmp = tempfile.mkdtemp(prefix="obs-chaos-pk9-")
stage, root, ckpt = os.path.join(tmp, "stage"), os.path.join(tmp, "root"), os.path.join(tmp, "ckpt")
os.makedirs(root)
procs = []
try:
    files = L.make_corpus(stage, int(os.environ.get("CHAOS_PK9_BYTES", 30_000_000)), 3)
    ref = L.Reference(stage, rid).start()
    db = L.fresh_db(dbname)
    L.topics(topic, 6)
    workers = [L.Worker(f"chaos-pk9-w{i}", topic, db, f"chaos-{rid}") for i in range(2)]
    procs += workers
    feeder = L.Feeder(stage, root, files, rng, seconds=8).start()
    print(f"corpus: {len(files)} files, {feeder.total()} bytes, fed over ~8 s")

    kills = 0
    prod = L.Producer("chaos-pk9-producer", topic, root, ckpt)
    procs.append(prod)
    t0 = time.monotonic()
    while kills < 5:
        time.sleep(rng.uniform(0.4, 2.2))
        alive = prod.alive()
        prod.kill9()
        kills += 1
        print(f"kill -9 #{kills} at {time.monotonic() - t0:.2f} s "
              f"({feeder.written()} of {feeder.total()} bytes fed, producer was {'alive' if alive else 'DEAD'})")
        c.ok(alive, f"producer alive before kill #{kills}", prod.tail(5))
        prod = L.Producer("chaos-pk9-producer", topic, root, ckpt)
        procs.append(prod)
    c.ok(feeder.done.wait(60) and feeder.error is None, "corpus fully written to the watch root", feeder.error or "")
    starts, _ = L.truth(root)
    want = len(starts)
    n = L.wait_stored(db, want, 120)
    c.ok(n == want, f"all {want} lines stored within 120 s after the last restart ({time.monotonic() - t0:.1f} s)",
         f"(stored {n})\n{prod.tail(5)}")
    L.assert_exact(c, root, db)
    c.eq(L.dlq_count(topic), 0, "nothing in the DLQ")
    c.eq(prod.stop(), 0, "the last producer exits 0 on SIGTERM")
    for w in workers:
        c.eq(w.stop(), 0, f"{w.name} exits 0 on SIGTERM")
    L.compare_reference(c, db, ref.result())
finally:
    for p in procs:
        p.kill()
    L.drop_db(dbname)
    shutil.rmtree(tmp, ignore_errors=True)
print(f"seed {seed}")
c.finish()
