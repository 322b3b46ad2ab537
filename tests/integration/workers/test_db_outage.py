#!/usr/bin/env python3
"""obs-worker across a PostgreSQL outage: the worker reaches the real server
through a TCP proxy in this process; cutting the proxy must neither DLQ nor
lose records - the worker pauses, reports db_up 0, reconnects by itself and
stores everything once the proxy is back. Also: bad config exits 2."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_pipeline as tp  # noqa: E402  (helpers: check, psql, metric, wait, stack)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lib"))
from obs_e2e import TcpRelay  # noqa: E402

ROOT = tp.ROOT


def main():
    boot = os.environ.get("KAFKA_BOOTSTRAP")
    if not boot or not os.environ.get("DATABASE_URL"):
        print("FAIL: KAFKA_BOOTSTRAP / DATABASE_URL not set\n0 passed, 1 failed")
        return 1
    bad = subprocess.run([str(tp.BIN / "obs-worker")], env={"PATH": os.environ["PATH"], "OBS_BATCH_MAX_RECORDS": "0"},
                         capture_output=True, text=True)
    tp.check(bad.returncode == 2 and len(bad.stderr.strip().splitlines()) >= 1,
             f"bad config exits 2 with one line per error: {bad.stderr.strip()!r}")
    tag = f"{os.getpid()}_{int(time.time())}"
    url = tp.stack("obs_test_db", f"wrk_out_{tag}")
    topic = tp.stack("obs_test_topics", f"wrk.out.{tag}")
    u = urllib.parse.urlsplit(url)
    pport = 40000 + os.getpid() % 20000
    proxy = TcpRelay(pport, (u.hostname, u.port or 5432))
    proxy.start()
    purl = urllib.parse.urlunsplit((u.scheme, f"{u.username}@127.0.0.1:{pport}" if u.username else
                                    f"127.0.0.1:{pport}", u.path, u.query, u.fragment))
    tmp = Path(tempfile.mkdtemp(prefix="wrk_out_"))
    src = ROOT / "tests" / "fixtures" / "projects"
    (tmp / "root" / "p").mkdir(parents=True)
    env = dict(os.environ, OBS_KAFKA_BOOTSTRAP=boot, OBS_KAFKA_TOPIC=topic, OBS_KAFKA_DLQ_TOPIC=topic + ".dlq",
               DATABASE_URL=purl, OBS_DATABASE_URL=purl,
               OBS_PRICES_PATH=str(ROOT / "common" / "model_prices.json"))
    penv = dict(env, OBS_WATCH_ROOTS=str(tmp / "root"), OBS_CHECKPOINT_PATH=str(tmp / "ckpt"),
                OBS_ADMIN_LISTEN="off")

    def produce(name):
        shutil.copy(next(src.rglob(name)), tmp / "root" / "p" / name)
        subprocess.run([str(tp.BIN / "obs-producer"), "--once"], env=penv, capture_output=True, timeout=120)

    port = 20000 + (os.getpid() + 7) % 20000
    log = open(tmp / "worker.log", "w")
    w = tp.start_worker(env, f"wrk-out-{tag}", port, log)
    produce("3f2a9c1e-7b4d-4e8a-9c2f-5d1e8b7a6c40.jsonl")
    count = lambda: int(tp.psql(url, "SELECT count(*) FROM events"))  # noqa: E731
    tp.check(tp.wait(lambda: count() == 40, 60), "first file stored through the proxy")

    proxy.stop()
    produce("e2c9b4a7-6d1f-4a3e-9b8c-7f0a2d5e1c96.jsonl")
    tp.check(tp.wait(lambda: tp.metric(port, "observatory_worker_db_up") == 0, 30), "db_up drops to 0 in the outage")
    tp.check(tp.wait(lambda: tp.metric(port, "observatory_worker_db_errors_total") >= 1, 10), "db error counted")
    time.sleep(1)  # let a few reconnect attempts fail while records wait
    tp.check(w.poll() is None, "worker keeps running during the outage")
    tp.check(count() == 40, "nothing new stored during the outage")

    proxy.start()
    tp.check(tp.wait(lambda: count() == 51, 60), "worker reconnected by itself and stored the waiting records")
    tp.check(tp.metric(port, "observatory_worker_db_up") == 1, "db_up back to 1")
    tp.check(tp.psql(url, "SELECT count(*) FROM ingest_errors") == "0", "no record went to ingest_errors")
    tp.check(tp.metric(port, "observatory_worker_dlq_total") in (0, -1), "nothing sent to the DLQ")
    w.terminate()
    tp.check(w.wait(timeout=30) == 0, "exit 0 on SIGTERM")
    proxy.stop()
    print(f"{tp.passed} passed, {tp.failed} failed")
    return 1 if tp.failed else 0


if __name__ == "__main__":
    sys.exit(main())
