"""Kafka broker down mid-ingest (the runner's local broker only).

~2 MB of a generated corpus is fed into the watch root while obs-producer
follows it and two workers store it. Then the broker is stopped
(`ops/local/kafka.sh stop`) and kept down ~15 s while the producer keeps
running and another ~8 MB is appended to the files - more than the
producer's in-flight limit (set to 4 MiB here, so the limit is really
exercised). The producer's memory is sampled from /proc/<pid>/status
(VmRSS, VmHWM) the whole time and must stay under 128 MiB (peak printed).
The broker is started again; afterwards the stored events equal the lines
of the files exactly and message_usage / roll-ups equal a clean reference
run.

Only when KAFKA_BOOTSTRAP is the runner's local broker (127.0.0.1:19092)
and `ops/local/kafka.sh status` says running; otherwise a SKIP line. Other
tests share this broker: the outage is kept short, and this is the only
test in its file.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_lib as L  # noqa: E402

RSS_LIMIT_KIB = 128 * 1024
INFLIGHT = 4 << 20  # producer kafka.max_inflight_bytes for this test
c = L.Check("chaos/broker_outage")
if not L.local_broker():
    print("SKIP: chaos/broker_outage: KAFKA_BOOTSTRAP is not the running local broker of ops/local/kafka.sh "
          "(127.0.0.1:19092); not stopping someone else's Kafka")
    c.finish()
seed, rng = L.seed_from_env("chaos/broker_outage")
rid = L.run_id("bro")
dbname, topic = f"obs_chaos_{rid}", f"t.chaos.{rid}"
tmp = tempfile.mkdtemp(prefix="obs-chaos-bro-")
stage, root, ckpt = os.path.join(tmp, "stage"), os.path.join(tmp, "root"), os.path.join(tmp, "ckpt")
os.makedirs(root)
KAFKA = ["bash", os.path.join(L.REPO, "ops", "local", "kafka.sh")]
procs = []
broker_down = False
samples = []  # (t, VmRSS KiB, VmHWM KiB)
stop_sampling = threading.Event()


def sampler(pid, t0):
    while not stop_sampling.is_set():
        rss, hwm = L.proc_mem_kib(pid)
        if rss:
            samples.append((time.monotonic() - t0, rss, hwm))
        stop_sampling.wait(0.2)


try:
    files = L.make_corpus(stage, int(os.environ.get("CHAOS_BRO_BYTES", 10_000_000)), 1)
    before, during = files[:2], files[2:]
    db = L.fresh_db(dbname)
    L.topics(topic, 6)
    t0 = time.monotonic()
    workers = [L.Worker(f"chaos-bro-w{i}", topic, db, f"chaos-{rid}") for i in range(2)]
    procs += workers
    prod = L.Producer("chaos-bro-producer", topic, root, ckpt, OBS_KAFKA_MAX_INFLIGHT_BYTES=str(INFLIGHT))
    procs.append(prod)
    threading.Thread(target=sampler, args=(prod.p.pid, t0), daemon=True).start()
    f1 = L.Feeder(stage, root, before, rng, seconds=3).start()
    print(f"corpus: {len(files)} files; {f1.total()} bytes fed before the outage")

    def at(what):
        print(f"{time.monotonic() - t0:6.2f} s: {what} (stored {L.count_events(db)})")
        sys.stdout.flush()

    first = rng.randint(300, 1500)
    c.ok(L.wait_for(lambda: L.count_events(db) >= first, 60, 0.2), f"stream stored (>= {first}) before the outage")
    at("kafka.sh stop")
    broker_down = True
    r = subprocess.run(KAFKA + ["stop"], capture_output=True, text=True, timeout=90)
    c.ok(r.returncode == 0, "kafka.sh stop", r.stderr)
    t_down = time.monotonic()
    f2 = L.Feeder(stage, root, during, rng, seconds=8).start()
    c.ok(f2.done.wait(30) and f2.error is None, f"{f2.total()} more bytes appended while the broker is down")
    time.sleep(max(0.0, 15 - (time.monotonic() - t_down)))
    c.ok(prod.alive(), "producer still running after ~15 s without a broker", prod.tail(5))
    behind = L.metric_values(prod.metrics(), "observatory_producer_bytes_behind").get("", -1)
    print(f"producer bytes_behind with the broker down: {behind:.0f}")
    c.ok(behind >= f2.total() - INFLIGHT, "the appended data waits in the files, not in memory "
                                            "(bytes_behind >= appended - in-flight limit)", str(behind))
    at(f"kafka.sh start after {time.monotonic() - t_down:.1f} s down")
    r = subprocess.run(KAFKA + ["start"], capture_output=True, text=True, timeout=120)
    broker_down = r.returncode != 0
    c.ok(r.returncode == 0, "kafka.sh start", r.stderr)
    ref = L.Reference(stage, rid).start()  # the stack is whole again: a clean run
    at("broker answers again")
    c.ok(f1.done.wait(30) and f1.error is None, "first part fully written")
    starts, _ = L.truth(root)
    want = len(starts)
    n = L.wait_stored(db, want, 150)
    c.ok(n == want, f"all {want} lines stored ({time.monotonic() - t0:.1f} s from the start)",
         f"(stored {n})\n{prod.tail(5)}")
    stop_sampling.set()
    peak_rss = max((s[1] for s in samples), default=0)
    peak_hwm = max((s[2] for s in samples), default=0)
    print(f"producer memory: peak VmRSS {peak_rss / 1024:.1f} MiB, VmHWM {peak_hwm / 1024:.1f} MiB "
          f"({len(samples)} samples)")
    c.ok(len(samples) > 20, "producer memory sampled during the whole outage", str(len(samples)))
    c.ok(0 < peak_hwm < RSS_LIMIT_KIB, f"producer VmHWM stays under {RSS_LIMIT_KIB // 1024} MiB "
                                       f"(peak {peak_hwm / 1024:.1f} MiB)")
    L.assert_exact(c, root, db)
    c.eq(L.dlq_count(topic), 0, "nothing in the DLQ")
    c.eq(prod.stop(), 0, "producer exits 0 on SIGTERM")
    for w in workers:
        c.eq(w.stop(), 0, f"{w.name} exits 0 on SIGTERM")
    L.compare_reference(c, db, ref.result())
finally:
    stop_sampling.set()
    if broker_down:
        subprocess.run(KAFKA + ["start"], capture_output=True, timeout=120)
    for p in procs:
        p.kill()
    L.drop_db(dbname)
    shutil.rmtree(tmp, ignore_errors=True)
print(f"seed {seed}")
c.finish()
